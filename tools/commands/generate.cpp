// tfm generate CHECKPOINT: streams sampled text (tools/eval/lm_eval.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/commands/command.h"
#include "tools/commands/inference_precision.h"
#include "tools/eval/lm_eval.h"

namespace tfm::cli {
namespace {

struct Options {
  std::string checkpoint, prompt, precision = "fp32";
  SamplingOptions sampling;
};

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("generate", "Stream sampled text from a checkpoint");
  cmd->add_option("checkpoint", o->checkpoint, "Model checkpoint")->required();
  cmd->add_option("--prompt", o->prompt, "Text to continue");
  cmd->add_option("--tokens", o->sampling.tokens, "Tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", o->sampling.temperature, "Softmax temperature (0 = greedy)");
  cmd->add_option("--top-k", o->sampling.top_k, "Sample from the k most likely tokens (0 = all)");
  cmd->add_option("--top-p", o->sampling.top_p, "Nucleus sampling mass (1 = off)");
  cmd->add_option("--seed", o->sampling.seed, "Random seed (same seed, same text)");
  add_precision_option(cmd, o->precision);
  cmd->footer(
      "Each token: q ~ exp(logit / temperature), tokens ranked by q (ties: lower id first); --top-k keeps the k\n"
      "first; --top-p then keeps the shortest prefix of those whose mass, as a fraction of the whole\n"
      "distribution, reaches p; the token is drawn from the kept ones, renormalised.");
  return [o] {
    const InferencePrecision precision(o->precision);
    LoadedLm m = load_lm(o->checkpoint);
    const std::vector<int32_t> prompt = m.tokenizer->encode(o->prompt);
    std::fputs(o->prompt.c_str(), stdout);
    generate(*m.model, prompt, o->sampling, [&](int32_t id) {
      const std::string piece = m.tokenizer->decode({id});
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    std::fputc('\n', stdout);
    return 0;
  };
}

TFM_REGISTER_COMMAND("generate", 30, setup);

}  // namespace
}  // namespace tfm::cli
