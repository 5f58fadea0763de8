// tfm attention CHECKPOINT --source S --out FILE.svg: a cross-attention heatmap (tools/eval/seq2seq_eval.h).
#include <cstdio>
#include <memory>
#include <string>

#include "tools/commands/command.h"
#include "tools/eval/seq2seq_eval.h"

namespace tfm::cli {
namespace {

struct Options {
  std::string checkpoint;
  AttentionPlotOptions plot;
};

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  AttentionPlotOptions& a = o->plot;
  CLI::App* cmd = app.add_subcommand("attention", "Draw the cross-attention weights of one translated sentence (SVG heatmap)");
  cmd->add_option("checkpoint", o->checkpoint, "Checkpoint of a transformer or rnn-attention model")->required();
  cmd->add_option("--source", a.source, "Source sentence")->required();
  cmd->add_option("--target", a.target, "Target sentence to force (default: the model's own translation)");
  cmd->add_option("--layer", a.layer, "Decoder layer (default -1: the last)")->capture_default_str();
  cmd->add_option("--head", a.head, "Attention head (default -1: the mean over heads)")->capture_default_str();
  cmd->add_option("--beam", a.beam, "Beam size of the translation")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--out,-o", a.out, "Output file (.svg)")->required();
  return [o] {
    const std::string text = attention_command(o->checkpoint, o->plot);
    std::printf("%s\nwrote %s\n", text.c_str(), o->plot.out.c_str());
    return 0;
  };
}

TFM_REGISTER_COMMAND("attention", 90, setup);

}  // namespace
}  // namespace tfm::cli
