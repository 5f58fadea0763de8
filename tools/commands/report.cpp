// tfm report RUN_DIR...: the runs' curves as one self-contained HTML page (tools/report/report.h).
#include <cstdio>
#include <memory>

#include "tools/commands/command.h"
#include "tools/report/report.h"

namespace tfm::cli {
namespace {

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<report::ReportOptions>();
  CLI::App* cmd = app.add_subcommand("report", "Draw the curves of run directories into one self-contained HTML page");
  cmd->add_option("run_dirs", o->run_dirs, "Run directories of tfm train (several: overlaid)")->required();
  cmd->add_option("--out,-o", o->out, "HTML file to write")->capture_default_str();
  cmd->add_option("--x", o->panels.x, "x axis: step | time | tokens")->capture_default_str()
      ->check(CLI::IsMember({"step", "time", "tokens"}));
  cmd->add_flag("--log-y", o->panels.log_y, "Log y axis for loss, perplexity and gradient norm");
  cmd->add_option("--smooth", o->panels.smooth, "Moving mean over N logged steps (0: about 1/20 of the run, 1: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  return [o] {
    const report::ReportResult r = report::run(*o);
    std::printf("wrote %s (%d run%s, %d panels%s)\n", r.out.c_str(), r.runs, r.runs == 1 ? "" : "s", r.panels,
                r.in_progress > 0 ? ", a run in progress" : "");
    return 0;
  };
}

TFM_REGISTER_COMMAND("report", 100, setup);

}  // namespace
}  // namespace tfm::cli
