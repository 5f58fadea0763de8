#include "tools/commands/command.h"

#include <algorithm>

namespace tfm::cli {
namespace {
std::vector<Command>& table() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace

bool register_command(const Command& command) {
  table().push_back(command);
  return true;
}

std::vector<Command> registered_commands() {
  std::vector<Command> out = table();
  std::sort(out.begin(), out.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  return out;
}

}  // namespace tfm::cli
