#include "tools/data/token_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "tools/data/token_manifest.h"
#include "tools/text/text_files.h"
#include "tools/text/text_reader.h"

namespace tfm {
namespace {

namespace fs = std::filesystem;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string megabytes(int64_t bytes) { return format_value("%.1f MB", static_cast<double>(bytes) / 1e6); }

// The files of a data key, absolute (symbolic links resolved), each present and not empty.
std::vector<std::string> source_files(const std::vector<std::string>& patterns, const std::string& what) {
  std::vector<std::string> out;
  for (const std::string& path : expand_paths(patterns)) {
    std::error_code ec;
    TFM_CHECK(fs::file_size(path, ec) > 0 || ec, what, " file ", path, " is empty");
    out.push_back(fs::weakly_canonical(fs::absolute(path)).string());
  }
  return out;
}

// An exclusive flock on the entry's lock file while it is checked and built, so that two runs
// starting together prepare it once.
class EntryLock {
 public:
  EntryLock(const std::string& path, Progress* progress) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    TFM_CHECK(fd_ >= 0, "cannot create the lock file ", path, ": ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (progress) progress->log("waiting for another process that is preparing " + path.substr(0, path.size() - 5));
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~EntryLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  EntryLock(const EntryLock&) = delete;
  EntryLock& operator=(const EntryLock&) = delete;

 private:
  int fd_ = -1;
};

// Temporary files (core/io.h: PATH.tmp.PID) that a killed process left beside `path`: its lock
// is held, so any whose process is gone is garbage.
void remove_dead_temporaries(const std::string& path) {
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

// The manifest at path, or nullopt with why it cannot be used.
std::optional<TokenManifest> read_manifest(const std::string& path, std::string& problem) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    problem = "not prepared yet";
    return std::nullopt;
  }
  try {
    return TokenManifest::from_json(parse_json(read_file(path), path), path);
  } catch (const Error& e) {
    problem = e.what();
    return std::nullopt;
  }
}

// Progress of a pass over the text: the status line on a terminal, a log line every 30 s otherwise.
std::function<void(int64_t)> pass_progress(Progress* progress, const std::string& label, int64_t total) {
  if (progress == nullptr) return {};
  const auto start = std::chrono::steady_clock::now();
  auto last_log = std::make_shared<std::chrono::steady_clock::time_point>(start);
  return [=](int64_t done) {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - start).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    const std::string line = label + ": " + megabytes(done) + " of " + megabytes(total) + " (" +
                             format_value("%.0f%%", 100.0 * static_cast<double>(done) / static_cast<double>(total)) +
                             "), " + format_value("%.1f MB/s", rate / 1e6) + ", ETA " +
                             format_duration(rate > 0 ? static_cast<double>(total - done) / rate : -1.0);
    if (progress->interactive()) {
      progress->status(line);
    } else if (now - *last_log >= std::chrono::seconds(30)) {
      *last_log = now;
      progress->log(line);
    }
  };
}

// Tokenizes the sources into the entry's token file, then writes its manifest (in that
// order: a manifest is only ever written for a complete token file).
void build_split(PreparedSplit& s, const std::vector<std::string>& paths, const Tokenizer& tok,
                 const nlohmann::json& record, const PrepareOptions& options) {
  Progress* progress = options.progress;
  const auto start = std::chrono::steady_clock::now();
  if (progress && options.log_steps) progress->log(s.what + ": preparing " + s.entry.token_path + " (" + s.reason + ")");
  std::error_code ec;
  fs::remove(s.entry.manifest_path, ec);
  remove_dead_temporaries(s.entry.token_path);
  remove_dead_temporaries(s.entry.manifest_path);
  TokenManifest m;
  m.split = s.what == "data.val" ? "val" : "train";
  m.read_at_ns = now_ns();
  m.sources = stamp_sources(paths);
  TextReader reader(paths, s.what, tok.split(), options.piece_bytes);
  reader.on_progress(pass_progress(progress, s.what + ": tokenizing", reader.total_bytes()));
  m.tokens = write_token_file(s.entry.token_path, token_dtype_for(tok.vocab_size()),
                              [&](const TokenAppender& append) { encode_text(tok, reader, append); });
  if (progress) progress->finish_status();
  const std::vector<SourceStamp> after = stamp_sources(paths);
  for (size_t i = 0; i < paths.size(); ++i) {
    TFM_CHECK(after[i].size == m.sources[i].size && after[i].mtime_ns == m.sources[i].mtime_ns, s.what, ": ",
              paths[i], " changed while it was being prepared; run again once it is complete");
    m.sources[i].crc32c = reader.checksums()[i];
  }
  m.tokenizer_hash = tokenizer_hash(tok);
  m.tokenizer_config = record.is_null() ? nlohmann::json() : record["config"];
  m.tokenizer = record.is_null() ? nlohmann::json() : record["tokenizer"];
  m.token_file = fs::path(s.entry.token_path).filename().string();
  write_file_atomic(s.entry.manifest_path, m.to_json().dump(1) + "\n");
  s.file = TokenFile::open(s.entry.token_path, m.tokens, /*verify_checksum=*/false);
  s.built = true;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The entry's token file, mapped: the one there when its manifest still matches the sources
// and the tokenizer and the file its manifest, else built again (options.build). record:
// {"config", "tokenizer"} when the tokenizer was trained here on these sources, else null.
PreparedSplit prepare_split(const std::string& what, const TokenCacheEntry& entry, const std::vector<std::string>& paths,
                            const Tokenizer& tok, const nlohmann::json& record, const PrepareOptions& options) {
  PreparedSplit s;
  s.what = what;
  s.entry = entry;
  const std::vector<SourceStamp> stamps = stamp_sources(paths);
  s.source_files = static_cast<int64_t>(paths.size());
  for (const SourceStamp& st : stamps) s.source_bytes += st.size;
  std::optional<TokenManifest> manifest = read_manifest(entry.manifest_path, s.reason);
  const std::string hash = tokenizer_hash(tok);
  if (manifest) s.reason = why_stale(*manifest, stamps, hash, tok.vocab_size());
  if (manifest && s.reason.empty()) {
    try {
      const std::string token_path = (fs::path(entry.manifest_path).parent_path() / manifest->token_file).string();
      TFM_CHECK(token_path == entry.token_path, entry.manifest_path, ": names token file ", manifest->token_file,
                ", expected ", fs::path(entry.token_path).filename().string());
      s.file = TokenFile::open(entry.token_path, manifest->tokens, options.verify_checksum);
      // Trained again with another config to the same tokenizer: the manifest now keeps this one.
      if (!record.is_null() && manifest->tokenizer_config != record["config"] && options.build) {
        manifest->tokenizer_config = record["config"];
        manifest->tokenizer = record["tokenizer"];
        write_file_atomic(entry.manifest_path, manifest->to_json().dump(1) + "\n");
      }
      return s;
    } catch (const Error& e) {
      s.reason = e.what();
    }
  }
  TFM_CHECK(options.build, what, ": the prepared tokens ", entry.token_path, " cannot be used (", s.reason,
            "); they are prepared by rank 0, which should have made them");
  build_split(s, paths, tok, record, options);
  return s;
}

// The tokenizer the training file's manifest keeps, when it was trained with this config on
// these sources as they are now; else null.
std::unique_ptr<Tokenizer> cached_tokenizer(const std::optional<TokenManifest>& m, const std::vector<std::string>& paths,
                                            const nlohmann::json& config) {
  if (!m || m->tokenizer.is_null() || m->tokenizer_config != config) return nullptr;
  try {
    std::unique_ptr<Tokenizer> tok = Tokenizer::from_json(m->tokenizer);
    if (why_stale(*m, stamp_sources(paths), tokenizer_hash(*tok), tok->vocab_size()).empty()) return tok;
  } catch (const Error&) {
    // A manifest whose tokenizer does not load is as good as none: train it again.
  }
  return nullptr;
}

}  // namespace

std::string resolve_token_cache_dir(const std::string& configured) {
  if (!configured.empty()) return fs::absolute(configured).lexically_normal().string();
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
  };
  if (!env("TFM_CACHE_DIR").empty()) return fs::absolute(env("TFM_CACHE_DIR")).lexically_normal().string();
  if (!env("XDG_CACHE_HOME").empty()) return (fs::path(env("XDG_CACHE_HOME")) / "tfm" / "data").string();
  TFM_CHECK(!env("HOME").empty(),
            "data.cache_dir: no directory for prepared token files: set data.cache_dir (or TFM_CACHE_DIR); HOME is "
            "not set");
  return (fs::path(env("HOME")) / ".cache" / "tfm" / "data").string();
}

TokenCacheEntry token_cache_entry(const std::string& dir, const std::string& split,
                                  const std::vector<std::string>& sources) {
  std::string joined, stem = fs::path(sources.at(0)).stem().string();
  for (const std::string& s : sources) joined += s + '\n';
  for (char& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (stem.size() > 40) stem.resize(40);
  const std::string base =
      (fs::path(dir) / (stem + "-" + fnv1a64_hex(joined).substr(8, 12) + "." + split)).string();
  return {base + ".tokens", base + ".manifest.json", base + ".lock"};
}

PreparedLmData prepare_lm_data(const std::vector<std::string>& train, const std::vector<std::string>& val,
                               const TokenizerConfig& tokenizer_config, std::unique_ptr<Tokenizer> tokenizer,
                               const PrepareOptions& options) {
  const std::vector<std::string> train_paths = source_files(train, "data.train");
  const std::vector<std::string> val_paths = val.empty() ? std::vector<std::string>() : source_files(val, "data.val");
  const std::string dir = resolve_token_cache_dir(options.cache_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  TFM_CHECK(fs::is_directory(dir), "data.cache_dir: cannot create ", dir, ": ", ec.message(),
            " (set data.cache_dir to a writable directory)");
  PreparedLmData out;
  const TokenCacheEntry train_entry = token_cache_entry(dir, "train", train_paths);
  {
    std::optional<EntryLock> lock;
    if (options.build) lock.emplace(train_entry.lock_path, options.progress);
    std::string problem;
    const nlohmann::json config = tokenizer_config_json(tokenizer_config);
    nlohmann::json record;  // null unless trained here
    out.tokenizer_origin = "given";
    if (!tokenizer) {
      tokenizer = cached_tokenizer(read_manifest(train_entry.manifest_path, problem), train_paths, config);
      out.tokenizer_origin = "from the cache";
    }
    if (!tokenizer) {
      TFM_CHECK(options.build, "data.train: no tokenizer in ", train_entry.manifest_path, " for this config");
      if (options.progress && options.log_steps)
        options.progress->log("data.train: training the " + tokenizer_config.type + " tokenizer");
      int64_t total = 0;
      for (const SourceStamp& s : stamp_sources(train_paths)) total += s.size;
      tokenizer = Tokenizer::train(tokenizer_config, train_paths, "data.train",
                                   pass_progress(options.progress, "data.train: training the tokenizer", total));
      if (options.progress) options.progress->finish_status();
      out.tokenizer_origin = "trained on data.train";
    }
    if (out.tokenizer_origin != "given") record = {{"config", config}, {"tokenizer", tokenizer->to_json()}};
    out.train = prepare_split("data.train", train_entry, train_paths, *tokenizer, record, options);
  }
  if (!val_paths.empty()) {
    const TokenCacheEntry val_entry = token_cache_entry(dir, "val", val_paths);
    std::optional<EntryLock> lock;
    if (options.build) lock.emplace(val_entry.lock_path, options.progress);
    out.val = prepare_split("data.val", val_entry, val_paths, *tokenizer, nlohmann::json(), options);
  }
  out.tokenizer = std::move(tokenizer);
  return out;
}

LmData make_lm_data(const PreparedLmData& prepared, double val_fraction, int64_t seq_len) {
  TokenSequence all(prepared.train.file);
  if (prepared.val) return LmData(all, TokenSequence(prepared.val->file), seq_len);
  // Hold out the end of the training text (nanoGPT: first 90% train, last 10% val).
  const auto n_train = static_cast<int64_t>(static_cast<size_t>(static_cast<double>(all.size()) * (1.0 - val_fraction)));
  return LmData(all.slice(0, n_train), all.slice(n_train, all.size()), seq_len);
}

std::string describe(const PreparedSplit& s) {
  const TokenFile& f = *s.file;
  const std::string what = std::to_string(f.size()) + " tokens (" + token_dtype_name(f.dtype()) + ") from " +
                           std::to_string(s.source_files) + (s.source_files == 1 ? " file" : " files") + " of " +
                           megabytes(s.source_bytes);
  if (!s.built) return s.what + ": up to date, " + what + " in " + s.entry.token_path;
  return s.what + ": prepared " + what + " in " + format_duration(s.seconds) + " (" + s.reason + ") -> " +
         s.entry.token_path;
}

}  // namespace tfm
