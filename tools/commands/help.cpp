// tfm help config-keys: every config key (tools/train/train_config.h).
#include <cstdio>
#include <memory>
#include <string>

#include "tools/commands/command.h"
#include "tools/train/train_config.h"

namespace tfm::cli {
namespace {

CommandRun setup(CLI::App& app) {
  auto topic = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("help", "Reference: `tfm help config-keys` lists every config key");
  cmd->add_option("topic", *topic, "config-keys")->required();
  return [topic] {
    if (*topic == "config-keys" || *topic == "CONFIG-KEYS") {
      std::fputs(config_keys_help().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "error: unknown help topic \"%s\" (try: config-keys)\n", topic->c_str());
    return 2;
  };
}

TFM_REGISTER_COMMAND("help", 110, setup);

}  // namespace
}  // namespace tfm::cli
