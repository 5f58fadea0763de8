// tfm help config-keys [--markdown]: every config key, from the registries (tools/train/config_help.h).
#include <cstdio>
#include <memory>
#include <string>

#include "tools/commands/command.h"
#include "tools/train/config_help.h"

namespace tfm::cli {
namespace {

CommandRun setup(CLI::App& app) {
  auto topic = std::make_shared<std::string>();
  auto markdown = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("help", "Reference: `tfm help config-keys` lists every config key");
  cmd->add_option("topic", *topic, "config-keys")->required();
  cmd->add_flag("--markdown", *markdown, "As docs/config.md carries it (scripts/gen-config-docs.sh)");
  return [topic, markdown] {
    if (*topic == "config-keys" || *topic == "CONFIG-KEYS") {
      std::fputs((*markdown ? config_keys_markdown() : config_keys_help()).c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "error: unknown help topic \"%s\" (try: config-keys)\n", topic->c_str());
    return 2;
  };
}

TFM_REGISTER_COMMAND("help", 110, setup);

}  // namespace
}  // namespace tfm::cli
