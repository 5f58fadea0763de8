#pragma once
// What a run trains: a tokenizer, a model and its data. `tfm train` builds one
// from a config (build_task); a C++ program can fill one with its own model
// and data and hand it to a Trainer (tools/train/trainer.h).
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "tools/data/lm_data.h"
#include "tools/data/train_data.h"
#include "tools/support/progress.h"
#include "tools/text/tokenizer.h"
#include "tools/train/run_dir.h"
#include "tools/train/train_config.h"

namespace tfm {

struct Task {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Model> model;  // initialised
  std::unique_ptr<TrainData> data;
  // Translation: the validation pairs as text, scored with greedy BLEU at each evaluation when
  // the model is a Seq2SeqModel (empty: no BLEU).
  std::vector<std::string> bleu_sources, bleu_references;
  // Lines the Trainer logs before its first (how the data was prepared).
  std::vector<std::string> notes;
};

// From the config's model, tokenizer and data sections. The tokenizer comes from the run or
// checkpoint resumed (`from`), else it is trained on the training text; the model is created
// from model (vocab_size 0: the tokenizer's), initialised from train.seed and, for a
// checkpoint, loaded with its weights; cfg.resolved["model"] receives the model's full config.
// A missing or unknown model.type fails before any data is read; a model that trains on
// parallel data needs data.train {source, target}, and the other way round.
// Text data is prepared (tools/data/token_cache.h) with a status line on progress (null: none);
// what was prepared or found up to date goes to task.notes, logged when training starts (so a
// config error found after the data still leaves stderr to the error alone).
Task build_task(TrainConfig& cfg, const ResumeFrom& from, const RunDir& dir, Progress* progress = nullptr);

// The configured files' tokens, prepared once into token files in data.cache_dir and mapped
// (tools/data/token_cache.h). When `tokenizer` is null it is set to the one the cache keeps
// for this tokenizer config and data, else to one trained on the training files. Under MPI
// rank 0 prepares while the other ranks wait, then they map the same files (a rank on another
// host with a cache directory of its own prepares its copy), and all check that they have the
// same tokenizer and token counts. progress: status and log lines (rank 0's); notes: when
// given, what was prepared goes there instead of to the log.
LmData load_lm_data(const DataConfig& data, const TokenizerConfig& tok_config, std::unique_ptr<Tokenizer>& tokenizer,
                    int64_t seq_len, Progress* progress = nullptr, std::vector<std::string>* notes = nullptr);

}  // namespace tfm
