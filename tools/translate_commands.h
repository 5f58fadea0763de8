#pragma once
// `tfm translate` and `tfm attention`: translation from a checkpoint alone.
#include <iosfwd>
#include <memory>
#include <string>

#include "models/seq2seq.h"
#include "tools/tokenizer.h"
#include "tools/translate.h"

namespace tfm {

// Loads a checkpoint that must hold an encoder-decoder (transformer, rnn-attention).
struct LoadedSeq2Seq {
  std::unique_ptr<Model> holder;
  Seq2SeqModel* model = nullptr;
  std::unique_ptr<Tokenizer> tokenizer;
};
LoadedSeq2Seq load_seq2seq(const std::string& path);

// Reads sentences from `input` (a file, or stdin when empty or "-"), writes one
// translation per line to `out`; warnings (sources cut to model.seq_len) to `err`.
void translate_command(const std::string& checkpoint, const std::string& input, const TranslateOptions& options,
                       std::ostream& out, std::ostream& err);

struct AttentionPlotOptions {
  std::string source;
  std::string target;  // empty: the model's own translation (beam `beam`)
  int64_t layer = -1, head = -1;
  int64_t beam = 1;
  std::string out;  // .svg path, written atomically
};
// Writes the heatmap; returns the target text it drew.
std::string attention_command(const std::string& checkpoint, const AttentionPlotOptions& options);

// The label of one token id on a heatmap axis: its text, or <s>, </s>, <pad>, <unk>.
std::string token_label(const Tokenizer& tokenizer, int32_t id);

}  // namespace tfm
