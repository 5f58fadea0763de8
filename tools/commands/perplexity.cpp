// tfm perplexity CHECKPOINT TEXTFILE | --source SRC --target TGT (tools/eval/lm_eval.h, translate_commands.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "tools/commands/command.h"
#include "tools/commands/inference_precision.h"
#include "tools/eval/lm_eval.h"
#include "tools/text/text_files.h"
#include "tools/data/parallel_data.h"
#include "tools/eval/seq2seq_eval.h"

namespace tfm::cli {
namespace {

struct Options {
  std::string checkpoint, text, source, target, precision = "fp32";
  bool json = false;
  int64_t batch = 16;
};

PerplexityResult score_pairs(const Options& o) {
  TFM_CHECK(!o.source.empty() && !o.target.empty(), "perplexity: --source and --target go together (found only ",
            o.source.empty() ? "--target" : "--source", ")");
  TFM_CHECK(o.text.empty(), "perplexity: give either TEXTFILE (a language model) or --source and --target ",
            "(an encoder-decoder), not both");
  LoadedSeq2Seq m = load_seq2seq(o.checkpoint);
  std::vector<int64_t> truncated;
  const PerplexityResult r = seq2seq_perplexity(*m.model, *m.tokenizer, read_lines({o.source}, o.source),
                                                read_lines({o.target}, o.target), o.batch, &truncated);
  for (int64_t i : truncated)
    std::fprintf(stderr, "warning: line %lld: the pair is longer than model.seq_len = %lld tokens; scored its "
                 "beginning only\n", static_cast<long long>(i + 1), static_cast<long long>(m.model->max_len()));
  return r;
}

PerplexityResult score_text(const Options& o) {
  TFM_CHECK(!o.text.empty(), "perplexity: give TEXTFILE (a language model) or --source SRC --target TGT ",
            "(an encoder-decoder)");
  LoadedLm m = load_lm(o.checkpoint);
  const std::string text = read_file(o.text);
  TFM_CHECK(!text.empty(), o.text, " is empty");
  return perplexity(*m.model, m.tokenizer->encode(text), o.batch);
}

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Per-token NLL and perplexity of a text (language model) or of target sentences given "
                    "source sentences (encoder-decoder) under a checkpoint");
  cmd->add_option("checkpoint", o->checkpoint, "Model checkpoint (.safetensors)")->required();
  cmd->add_option("textfile", o->text, "Text to score (language model)");
  cmd->add_option("--source", o->source, "Source sentences, one per line (encoder-decoder)");
  cmd->add_option("--target", o->target, "Target sentences, line by line aligned with --source (encoder-decoder)");
  cmd->add_flag("--json", o->json, "Last line: {\"nll\":...,\"ppl\":...,\"tokens\":...}");
  cmd->add_option("--batch-size", o->batch, "Windows (or sentence pairs) scored per forward pass")
      ->check(CLI::PositiveNumber);
  add_precision_option(cmd, o->precision);
  cmd->footer(
      "Language model (TEXTFILE): the text becomes ids x[0..N-1]; windows start at s = 0, T, 2T, ...\n"
      "(T = seq_len), each an independent context predicting x[s+1 .. min(s+T, N-1)], so every token but the\n"
      "first is scored once.\n"
      "Encoder-decoder (--source SRC --target TGT): teacher-forced, as tfm train's validation loss: the source\n"
      "is its tokens then </s>, the decoder reads <s> + target and predicts target + </s>, so every target\n"
      "token and each </s> is scored once, without label smoothing. A pair longer than seq_len is cut (the\n"
      "source to seq_len tokens, </s> last; the target to seq_len - 1), with a warning.");
  return [o] {
    const InferencePrecision precision(o->precision);
    const PerplexityResult r = !o->source.empty() || !o->target.empty() ? score_pairs(*o) : score_text(*o);
    std::printf("tokens: %lld\nnll: %.6f nats/token\nperplexity: %.4f\n", static_cast<long long>(r.tokens), r.nll, r.ppl);
    if (o->json)
      std::printf("{\"nll\":%.9g,\"ppl\":%.9g,\"tokens\":%lld}\n", r.nll, r.ppl, static_cast<long long>(r.tokens));
    return 0;
  };
}

TFM_REGISTER_COMMAND("perplexity", 20, setup);

}  // namespace
}  // namespace tfm::cli
