// tfm average CHECKPOINT... --out FILE (models/checkpoint.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "models/checkpoint.h"
#include "tools/commands/command.h"

namespace tfm::cli {
namespace {

struct Options {
  std::vector<std::string> inputs;
  std::string output;
};

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("average", "Average checkpoints of one model into a new checkpoint");
  cmd->add_option("checkpoints", o->inputs, "Checkpoints to average (same model)")->required();
  cmd->add_option("--out,-o", o->output, "Output checkpoint (written atomically)")->required();
  return [o] {
    average_checkpoints(o->inputs, o->output);
    std::printf("averaged %zu checkpoints into %s\n", o->inputs.size(), o->output.c_str());
    return 0;
  };
}

TFM_REGISTER_COMMAND("average", 60, setup);

}  // namespace
}  // namespace tfm::cli
