// tfm train CONFIG: a run directory from a JSON config (tools/train/trainer.h).
#include <cmath>
#include <cstdio>
#include <memory>

#include "tools/commands/command.h"
#include "tools/train/distributed.h"
#include "tools/train/trainer.h"

namespace tfm::cli {
namespace {

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from a JSON config into a run directory");
  cmd->add_option("config", o->config_path, "Config file (see `tfm help config-keys`)")->required();
  cmd->add_option("--set", o->overrides, "Override a config key: section.key=value (repeatable)");
  cmd->add_option("--out", o->out_dir, "Run directory (default runs/<config>-<time>)");
  cmd->add_option("--resume", o->resume, "Continue the run in RUN_DIR exactly, or start from CHECKPOINT's weights");
  cmd->add_flag("--quiet", o->quiet, "No progress output");
  return [o] {
    const TrainSummary s = run_training(*o);
    if (dist::is_root()) {
      std::printf("run: %s\nsteps: %lld\ntokens: %lld\nwall time: %.1f s\nbest val loss: %.4f\nbest val ppl: %.3f\n",
                  s.run_dir.c_str(), static_cast<long long>(s.steps), static_cast<long long>(s.tokens), s.wall_seconds,
                  s.best_val_loss, std::exp(s.best_val_loss));
      std::printf("report: tfm report %s --out %s/report.html\n", s.run_dir.c_str(), s.run_dir.c_str());
    }
    return s.interrupted ? 130 : 0;
  };
}

TFM_REGISTER_COMMAND("train", 10, setup);

}  // namespace
}  // namespace tfm::cli
