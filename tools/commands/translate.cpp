// tfm translate CHECKPOINT: beam search over sentences, one per line (tools/eval/seq2seq_eval.h).
#include <iostream>
#include <memory>
#include <string>

#include "core/parallel.h"
#include "tools/commands/command.h"
#include "tools/commands/inference_precision.h"
#include "tools/eval/seq2seq_eval.h"

namespace tfm::cli {
namespace {

struct Options {
  std::string checkpoint, input, precision = "fp32";
  TranslateOptions translate;
  int64_t threads = 0;
};

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  TranslateOptions& t = o->translate;
  t.beam = 5;
  t.length_penalty = 0.6;
  CLI::App* cmd = app.add_subcommand("translate", "Translate sentences (one per line) with an encoder-decoder checkpoint");
  cmd->add_option("checkpoint", o->checkpoint, "Checkpoint of a transformer or rnn-attention model")->required();
  cmd->add_option("--input,-i", o->input, "Source sentences, one per line (default: stdin)");
  cmd->add_option("--beam", t.beam, "Beam size; 1 = greedy decoding")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--length-penalty", t.length_penalty,
                  "alpha: hypotheses are ranked by log-probability / length^alpha (0: raw log-probability)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-len", t.max_len,
                  "Most tokens generated per sentence (default 0: 2 x source length + 10, at most model.seq_len)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", t.batch_size, "Sentences decoded together")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "OpenMP threads (default: all cores)")->check(CLI::NonNegativeNumber);
  add_precision_option(cmd, o->precision);
  cmd->footer("Translations go to stdout, one line per input line, in input order (detokenised text).");
  return [o] {
    if (o->threads > 0) set_num_threads(static_cast<int>(o->threads));
    const InferencePrecision precision(o->precision);  // after the threads: "auto" measures with them
    translate_command(o->checkpoint, o->input, o->translate, std::cout, std::cerr);
    return 0;
  };
}

TFM_REGISTER_COMMAND("translate", 80, setup);

}  // namespace
}  // namespace tfm::cli
