#pragma once
// Prepared token files (docs/data.md): a tokenized corpus on disk, memory-mapped
// read-only by the runs that train on it. Layout, little-endian:
//   bytes 0-7    magic "TFMTOKNS"
//   bytes 8-11   format version (1)
//   bytes 12-15  bytes per token: 2 (uint16) or 4 (uint32)
//   bytes 16-23  token count N
//   bytes 24-27  CRC-32C of the token bytes
//   bytes 28-63  zero
//   bytes 64-    N ids, each 2 or 4 bytes
// The manifest beside it (tools/data/token_cache.h) says what it was made
// from; open() checks the header and the size against what the manifest
// expects and the checksum against the bytes, so a torn, truncated or foreign
// file is never used.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tfm {

enum class TokenDType : uint32_t { U16 = 2, U32 = 4 };

// uint16 when every id of the vocabulary fits (vocab_size <= 65536), else uint32.
TokenDType token_dtype_for(int64_t vocab_size);
const char* token_dtype_name(TokenDType dtype);  // "uint16" | "uint32"
std::optional<TokenDType> parse_token_dtype(const std::string& name);
inline int64_t token_bytes(TokenDType dtype) { return static_cast<int64_t>(dtype); }

inline constexpr int64_t kTokenFileHeaderBytes = 64;
inline constexpr uint32_t kTokenFileVersion = 1;

struct TokenFileSummary {
  TokenDType dtype = TokenDType::U16;
  int64_t tokens = 0;
  uint32_t crc32c = 0;
};

// Writes a token file atomically (core/io.h: temporary file, fsync, rename): produce calls
// append with the ids in order (each must fit dtype, else tfm::Error). The write is streamed,
// never held whole.
using TokenAppender = std::function<void(const std::vector<int32_t>& ids)>;
TokenFileSummary write_token_file(const std::string& path, TokenDType dtype,
                                  const std::function<void(const TokenAppender& append)>& produce);

// A token file mapped read-only (mmap). Thread-safe to read.
class TokenFile {
 public:
  // Maps `path` and checks it against `expected` (from its manifest): the magic, version,
  // dtype, count and checksum fields of the header, the file size (header + count x bytes per
  // token) and, with verify_checksum, the CRC-32C of the token bytes. Any mismatch is a
  // tfm::Error naming the file, the byte offset and what was found.
  static std::shared_ptr<const TokenFile> open(const std::string& path, const TokenFileSummary& expected,
                                               bool verify_checksum = true);
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  const std::string& path() const { return path_; }
  TokenDType dtype() const { return dtype_; }
  int64_t size() const { return tokens_; }
  // ids [first, first + n) as int32 into out; the range must lie inside the file.
  void copy(int64_t first, int64_t n, int32_t* out) const;

 private:
  TokenFile() = default;
  std::string path_;
  TokenDType dtype_ = TokenDType::U16;
  int64_t tokens_ = 0;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const unsigned char* ids_ = nullptr;
};

}  // namespace tfm
