#pragma once
// The manifest of a prepared token file (docs/data.md): a JSON file beside it
// that says what the tokens were made from (each source file's path, size,
// modification time and checksum; a hash of the tokenizer's serialised form)
// and what the token file holds (dtype, count, checksum, format version). A
// run uses a token file only while its manifest still matches the sources and
// the tokenizer (why_stale) and the file matches its manifest (TokenFile::open).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/data/token_file.h"
#include "tools/text/tokenizer.h"

namespace tfm {

struct SourceStamp {
  std::string path;  // absolute
  int64_t size = 0;
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
  uint32_t crc32c = 0;   // of the bytes (recorded when prepared)
};

// Size and modification time of each file (crc32c left 0); throws naming a file it cannot stat.
std::vector<SourceStamp> stamp_sources(const std::vector<std::string>& paths);
// CRC-32C of a whole file, read in blocks.
uint32_t file_crc32c(const std::string& path);

inline constexpr int kTokenManifestVersion = 1;

struct TokenManifest {
  std::string split;  // "train" | "val"
  std::vector<SourceStamp> sources;
  int64_t read_at_ns = 0;  // wall clock when reading the sources began
  std::string tokenizer_hash;
  // When the tokenizer was trained on these sources by the prepare step: the tokenizer config
  // it was trained with and the tokenizer itself (to_json), so a later run with the same config
  // takes it from here instead of training it again. Null otherwise.
  nlohmann::json tokenizer_config;
  nlohmann::json tokenizer;
  std::string token_file;  // its name, in the manifest's directory
  TokenFileSummary tokens;

  nlohmann::json to_json() const;
  // Throws tfm::Error naming `path` and the key when the JSON is not a manifest of this version.
  static TokenManifest from_json(const nlohmann::json& j, const std::string& path);
};

// "fnv1a64:" and 16 hex digits of FNV-1a over bytes.
std::string fnv1a64_hex(const std::string& bytes);
// Of the tokenizer's serialised form (to_json().dump()).
std::string tokenizer_hash(const Tokenizer& tokenizer);

// Why the manifest no longer describes `sources` (stamped now) tokenized by a tokenizer with
// this hash and vocabulary size; empty while it does. A source modified within two seconds of
// the moment it was read (within the modification time's granularity, so a later change could
// keep the same time and size) is compared by its checksum too.
std::string why_stale(const TokenManifest& manifest, const std::vector<SourceStamp>& sources,
                      const std::string& tokenizer_hash, int64_t vocab_size);

}  // namespace tfm
