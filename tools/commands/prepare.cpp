// tfm prepare CONFIG: tokenizes a config's text data once into the token files
// that `tfm train` maps (tools/data/token_cache.h, docs/data.md), or says they
// are up to date. `tfm train` does the same on its own when they are not.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "tools/commands/command.h"
#include "tools/data/token_cache.h"
#include "tools/train/train_config.h"

namespace tfm::cli {
namespace {

struct PrepareCommandOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  bool quiet = false;
};

int run_prepare(const PrepareCommandOptions& o) {
  TrainConfig cfg = TrainConfig::parse(load_config(o.config_path, o.overrides));
  TFM_CHECK(!cfg.data.parallel(), "tfm prepare: ", o.config_path,
            " has parallel data (data.train {source, target}), which tfm train reads as it is; tfm prepare "
            "prepares text data (data.train: files)");
  set_num_threads(cfg.train.threads > 0 ? static_cast<int>(cfg.train.threads) : available_cores());
  Progress progress("", o.quiet);
  PrepareOptions options;
  options.cache_dir = cfg.data.cache_dir;
  options.progress = &progress;
  const PreparedLmData p = prepare_lm_data(cfg.data.train, cfg.data.val, cfg.tokenizer, nullptr, options);
  progress.finish_status();
  std::printf("%s\n", describe(p.train).c_str());
  if (p.val) {
    std::printf("%s\n", describe(*p.val).c_str());
  } else {
    const int64_t n = p.train.file->size();
    const auto held_out = n - static_cast<int64_t>(static_cast<double>(n) * (1.0 - cfg.data.val_fraction));
    std::printf("data.val: the last %lld tokens of data.train (data.val_fraction %g)\n",
                static_cast<long long>(held_out), cfg.data.val_fraction);
  }
  std::printf("tokenizer: %s, %lld ids (%s)\n", p.tokenizer->type().c_str(),
              static_cast<long long>(p.tokenizer->vocab_size()), p.tokenizer_origin.c_str());
  return 0;
}

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<PrepareCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "prepare", "Tokenize a config's text data once into token files that tfm train maps (docs/data.md)");
  cmd->add_option("config", o->config_path, "Config file (its tokenizer and data sections)")->required();
  cmd->add_option("--set", o->overrides, "Override a config key: section.key=value (repeatable)");
  cmd->add_flag("--quiet", o->quiet, "No progress output");
  return [o] { return run_prepare(*o); };
}

TFM_REGISTER_COMMAND("prepare", 5, setup);

}  // namespace
}  // namespace tfm::cli
