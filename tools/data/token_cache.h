#pragma once
// Prepared language-model data (docs/data.md): the first run tokenizes the
// text once, in parallel and piece by piece (never the whole corpus in
// memory), into a token file and its manifest in the cache directory; later
// runs map the file instead of reading the text. A changed source (size,
// modification time), another tokenizer, or a torn, truncated or foreign file
// is prepared again. The training files and the validation files (data.val)
// each get their token file; a held-out fraction (data.val_fraction) is the
// end of the training file, as it always was.
//
// Files, in the cache directory, named after the first source and a hash of
// the sources' absolute paths:
//   STEM-HASH.train.tokens         the token file (tools/data/token_file.h)
//   STEM-HASH.train.manifest.json  what it was made from (tools/data/token_manifest.h)
//   STEM-HASH.train.lock           held while a process prepares it (flock)
// and the same with .val for the validation files.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/data/lm_data.h"
#include "tools/data/token_file.h"
#include "tools/support/progress.h"
#include "tools/text/tokenizer.h"

namespace tfm {

// data.cache_dir when set, else $TFM_CACHE_DIR, else $XDG_CACHE_HOME/tfm/data, else
// $HOME/.cache/tfm/data: beside the user, not the data, so sources on a read-only mount work.
std::string resolve_token_cache_dir(const std::string& configured);

struct TokenCacheEntry {
  std::string token_path, manifest_path, lock_path;
};
// The files for `split` ("train" | "val") of these sources (absolute paths) in dir.
TokenCacheEntry token_cache_entry(const std::string& dir, const std::string& split,
                                  const std::vector<std::string>& sources);

struct PrepareOptions {
  std::string cache_dir;        // as configured (data.cache_dir); resolved by resolve_token_cache_dir
  bool build = true;            // false: a missing or stale file is an error (MPI ranks after rank 0 built it)
  bool verify_checksum = true;  // read the whole token file once to check its CRC-32C
  Progress* progress = nullptr;  // status line (a log line every 30 s off a terminal); null: silent
  bool log_steps = true;          // also log "training the tokenizer" and "preparing PATH (why)" as they start
  int64_t piece_bytes = int64_t{1} << 20;  // text encoded at once by one thread (tools/text/text_reader.h)
};

struct PreparedSplit {
  std::string what;  // "data.train" | "data.val"
  TokenCacheEntry entry;
  bool built = false;  // false: it was up to date
  std::string reason;  // why it was built
  int64_t source_files = 0, source_bytes = 0;
  double seconds = 0.0;  // spent building
  std::shared_ptr<const TokenFile> file;
};

struct PreparedLmData {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_origin;  // "given" | "trained on data.train" | "from the cache"
  PreparedSplit train;
  std::optional<PreparedSplit> val;  // when validation files are given
};

// Prepares (or finds up to date) the token files of the training files `train` and the
// validation files `val` (files or globs; val may be empty). The tokenizer: the one given;
// else the one the training file's manifest keeps when it was trained with this config on
// these same sources; else one trained on the training files (tokenizer_config).
PreparedLmData prepare_lm_data(const std::vector<std::string>& train, const std::vector<std::string>& val,
                               const TokenizerConfig& tokenizer_config, std::unique_ptr<Tokenizer> tokenizer,
                               const PrepareOptions& options = {});

// Train and validation ids over the mapped files: the validation file, or else the end of the
// training file (the last val_fraction of its tokens, as load_lm_data always held out).
LmData make_lm_data(const PreparedLmData& prepared, double val_fraction, int64_t seq_len);

// "data.train: up to date, 1234 tokens (uint16) ... in PATH" or "data.train: prepared ... (why) -> PATH".
std::string describe(const PreparedSplit& split);

}  // namespace tfm
