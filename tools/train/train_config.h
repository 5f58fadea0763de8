#pragma once
// The training config: sections model, tokenizer, data, optim, train, each
// validated once into a typed struct (see docs/config.md for every key).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/ema.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tools/text/tokenizer.h"

namespace tfm {

struct DataConfig {
  std::vector<std::string> train;  // files or globs, resolved against the current directory
  std::vector<std::string> val;    // files; empty: hold out val_fraction of the training text
  double val_fraction = 0.1;
  // Prepared token files of text data (tools/data/token_cache.h); empty: $TFM_CACHE_DIR, else
  // $XDG_CACHE_HOME/tfm/data, else ~/.cache/tfm/data.
  std::string cache_dir;
  // Parallel data (encoder-decoder models): "train": {"source": ..., "target": ...}, same for "val".
  std::vector<std::string> train_source, train_target, val_source, val_target;
  int64_t max_len = 0;        // drop training pairs with a side longer (tokens, eos included); 0: model.seq_len
  int64_t sort_pool = 16384;  // pairs sorted by length together before batching
  bool parallel() const { return !train_source.empty(); }
};

struct OptimSettings {
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double grad_clip = 1.0;  // 0: off
  int64_t grad_accum = 1;
  double label_smoothing = 0.0;
};

struct TrainSettings {
  int64_t batch_size = 12;
  int64_t max_steps = 5000;
  double max_time = 0.0;  // seconds, 0: no limit
  int64_t eval_every = 250;
  int64_t eval_batches = 20;
  int64_t log_every = 10;
  int64_t checkpoint_every = 500;
  uint64_t seed = 1337;
  int64_t threads = 0;  // 0: all cores
  std::string precision = "fp32";  // fp32 | bf16 | auto: the GEMMs' operands (tools/train/train_precision.h)
  bool skip_nonfinite = false;  // skip a step whose loss or gradient is NaN/Inf instead of stopping
  double z_loss = 0.0;          // PaLM's z-loss coefficient (autograd/ops/loss.h), training loss only
  EmaConfig ema;                // "ema": DECAY | {"decay": DECAY, "start": STEP} | null (off)
  // Parallel data:
  int64_t batch_tokens = 0;     // token-count batches (padded rows × longest side); 0: batch_size sentences
  bool eval_bleu = true;        // greedy BLEU on the validation pairs at every evaluation
  int64_t eval_bleu_sentences = 0;  // 0: all validation pairs
  std::string best_by = "loss";     // loss | bleu: what best.safetensors keeps
  int64_t keep_checkpoints = 0;     // also keep the last K checkpoints as checkpoints/step-N.safetensors (for tfm average)
};

struct TrainConfig {
  nlohmann::json model;  // validated by the model's own parser (models/)
  TokenizerConfig tokenizer;
  DataConfig data;
  OptimSettings optim;
  TrainSettings train;
  nlohmann::json resolved;  // the whole config, defaults filled in, for config.json

  // Parses and validates; `source` names the file in messages.
  static TrainConfig parse(const nlohmann::json& j);
};

// Applies "--set key.path=value" (value parsed as JSON when it is JSON, else a string).
void apply_override(nlohmann::json& config, const std::string& assignment);
// Loads a config file and applies overrides; throws tfm::Error with file:line:column on syntax errors.
nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace tfm
