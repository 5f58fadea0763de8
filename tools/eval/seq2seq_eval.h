#pragma once
// `tfm translate` and `tfm attention`: translation from a checkpoint alone.
#include <iosfwd>
#include <memory>
#include <string>

#include "models/seq2seq.h"
#include "tools/eval/lm_eval.h"
#include "tools/text/tokenizer.h"
#include "tools/eval/translate.h"

namespace tfm {

// Loads a checkpoint that must hold an encoder-decoder (transformer, rnn-attention).
using LoadedSeq2Seq = LoadedAs<Seq2SeqModel>;
LoadedSeq2Seq load_seq2seq(const std::string& path);

// Reads sentences from `input` (a file, or stdin when empty or "-"), writes one
// translation per line to `out`; warnings (sources cut to model.seq_len) to `err`.
void translate_command(const std::string& checkpoint, const std::string& input, const TranslateOptions& options,
                       std::ostream& out, std::ostream& err);

// Teacher-forced per-token NLL of targets[i] given sources[i] (`tfm perplexity CHECKPOINT --source SRC
// --target TGT`). Pairs are built as tfm train builds them: the source is its tokens then eos, the decoder
// reads bos + target and predicts target + eos; every target token and each eos is scored once, without
// label smoothing. Pairs longer than model.seq_len are cut as tfm train's validation cuts them (the source
// to seq_len tokens, eos last; the target to seq_len − 1 tokens), so that on a run's validation files this
// gives its val_loss; `truncated` receives their line indices. Pairs are scored batch_size at a time in
// file order, padding masked.
PerplexityResult seq2seq_perplexity(Seq2SeqModel& model, const Tokenizer& tokenizer,
                                    const std::vector<std::string>& sources, const std::vector<std::string>& targets,
                                    int64_t batch_size, std::vector<int64_t>* truncated = nullptr);

struct AttentionPlotOptions {
  std::string source;
  std::string target;  // empty: the model's own translation (beam `beam`)
  int64_t layer = -1, head = -1;
  int64_t beam = 1;
  std::string out;  // .svg path, written atomically
};
// The heatmap (a standalone SVG document) and the target text it drew; options.out is not used.
struct AttentionPlot {
  std::string svg, text;
};
AttentionPlot attention_plot(const std::string& checkpoint, const AttentionPlotOptions& options);
// Writes the heatmap to options.out; returns the target text it drew.
std::string attention_command(const std::string& checkpoint, const AttentionPlotOptions& options);

// The label of one token id on a heatmap axis: its text, or <s>, </s>, <pad>, <unk>.
std::string token_label(const Tokenizer& tokenizer, int32_t id);

}  // namespace tfm
