// tfm inspect CHECKPOINT (tools/eval/lm_eval.h).
#include <iostream>
#include <memory>
#include <string>

#include "tools/commands/command.h"
#include "tools/eval/lm_eval.h"

namespace tfm::cli {
namespace {

CommandRun setup(CLI::App& app) {
  auto checkpoint = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a checkpoint's config, tokenizer, parameters and tensors");
  cmd->add_option("checkpoint", *checkpoint, "Model checkpoint")->required();
  return [checkpoint] {
    inspect_checkpoint(*checkpoint, std::cout);
    return 0;
  };
}

TFM_REGISTER_COMMAND("inspect", 40, setup);

}  // namespace
}  // namespace tfm::cli
