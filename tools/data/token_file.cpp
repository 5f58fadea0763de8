#include "tools/data/token_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <ostream>

#include "core/checksum.h"
#include "core/error.h"
#include "core/io.h"

namespace tfm {

static_assert(std::endian::native == std::endian::little, "token files are little-endian; this build is not");

namespace {

constexpr char kMagic[8] = {'T', 'F', 'M', 'T', 'O', 'K', 'N', 'S'};

// The 64-byte header (token_file.h).
std::string encode_header(const TokenFileSummary& s) {
  std::string h(kTokenFileHeaderBytes, '\0');
  const uint32_t version = kTokenFileVersion, width = static_cast<uint32_t>(s.dtype);
  const auto count = static_cast<uint64_t>(s.tokens);
  std::memcpy(h.data(), kMagic, 8);
  std::memcpy(h.data() + 8, &version, 4);
  std::memcpy(h.data() + 12, &width, 4);
  std::memcpy(h.data() + 16, &count, 8);
  std::memcpy(h.data() + 24, &s.crc32c, 4);
  return h;
}

template <typename T>
T field(const unsigned char* header, size_t offset) {
  T v;
  std::memcpy(&v, header + offset, sizeof v);
  return v;
}

// Checks the header fields against `expected`; throws naming the file and the field's offset.
void check_header(const std::string& path, const unsigned char* h, const TokenFileSummary& expected) {
  TFM_CHECK(std::memcmp(h, kMagic, 8) == 0, path, ": bytes 0-7 are not \"TFMTOKNS\": not a tfm token file");
  const auto version = field<uint32_t>(h, 8), width = field<uint32_t>(h, 12);
  const auto count = field<uint64_t>(h, 16);
  const auto crc = field<uint32_t>(h, 24);
  TFM_CHECK(version == kTokenFileVersion, path, ": format version ", version, " at byte 8, expected ",
            kTokenFileVersion);
  TFM_CHECK(width == static_cast<uint32_t>(expected.dtype), path, ": ", width, " bytes per token at byte 12, expected ",
            static_cast<uint32_t>(expected.dtype), " (", token_dtype_name(expected.dtype), ") from its manifest");
  TFM_CHECK(count == static_cast<uint64_t>(expected.tokens), path, ": ", count, " tokens at byte 16, expected ",
            expected.tokens, " from its manifest");
  TFM_CHECK(crc == expected.crc32c, path, ": checksum ", crc, " at byte 24, expected ", expected.crc32c,
            " from its manifest");
}

}  // namespace

TokenDType token_dtype_for(int64_t vocab_size) { return vocab_size <= 65536 ? TokenDType::U16 : TokenDType::U32; }

const char* token_dtype_name(TokenDType dtype) { return dtype == TokenDType::U16 ? "uint16" : "uint32"; }

std::optional<TokenDType> parse_token_dtype(const std::string& name) {
  if (name == "uint16") return TokenDType::U16;
  if (name == "uint32") return TokenDType::U32;
  return std::nullopt;
}

TokenFileSummary write_token_file(const std::string& path, TokenDType dtype,
                                  const std::function<void(const TokenAppender& append)>& produce) {
  TokenFileSummary summary;
  summary.dtype = dtype;
  write_file_atomic(path, [&](std::ostream& out) {
    summary.tokens = 0;
    summary.crc32c = 0;
    out.write(encode_header(summary).data(), kTokenFileHeaderBytes);  // rewritten once the count is known
    std::vector<unsigned char> buffer;
    const int64_t width = token_bytes(dtype);
    const int64_t limit = dtype == TokenDType::U16 ? 65535 : 4294967295;
    produce([&](const std::vector<int32_t>& ids) {
      buffer.resize(ids.size() * static_cast<size_t>(width));
      for (size_t i = 0; i < ids.size(); ++i) {
        TFM_CHECK(ids[i] >= 0 && ids[i] <= limit, path, ": token ", summary.tokens + static_cast<int64_t>(i), " is id ",
                  ids[i], ", outside the ", token_dtype_name(dtype), " range");
        if (dtype == TokenDType::U16) {
          const auto v = static_cast<uint16_t>(ids[i]);
          std::memcpy(buffer.data() + 2 * i, &v, 2);
        } else {
          const auto v = static_cast<uint32_t>(ids[i]);
          std::memcpy(buffer.data() + 4 * i, &v, 4);
        }
      }
      summary.crc32c = crc32c(buffer.data(), buffer.size(), summary.crc32c);
      summary.tokens += static_cast<int64_t>(ids.size());
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
    });
    out.seekp(0);
    out.write(encode_header(summary).data(), kTokenFileHeaderBytes);
  });
  return summary;
}

std::shared_ptr<const TokenFile> TokenFile::open(const std::string& path, const TokenFileSummary& expected,
                                                 bool verify_checksum) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TFM_CHECK(fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st{};
  const int stat_rc = ::fstat(fd, &st);
  const auto bytes = static_cast<int64_t>(st.st_size);
  const int64_t want = kTokenFileHeaderBytes + expected.tokens * token_bytes(expected.dtype);
  if (stat_rc != 0 || bytes != want) {
    ::close(fd);
    TFM_CHECK(stat_rc == 0, "cannot stat ", path, ": ", std::strerror(errno));
    TFM_FAIL(path, ": ", bytes, " bytes, expected ", want, " (a ", kTokenFileHeaderBytes, "-byte header and ",
             expected.tokens, " ", token_dtype_name(expected.dtype), " tokens from its manifest): torn or foreign");
  }
  void* map = ::mmap(nullptr, static_cast<size_t>(bytes), PROT_READ, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file
  TFM_CHECK(map != MAP_FAILED, "cannot map ", path, " (", bytes, " bytes): ", std::strerror(map_errno));
  std::shared_ptr<TokenFile> file(new TokenFile());
  file->path_ = path;
  file->dtype_ = expected.dtype;
  file->tokens_ = expected.tokens;
  file->map_ = map;
  file->map_bytes_ = static_cast<size_t>(bytes);
  const auto* base = static_cast<const unsigned char*>(map);
  file->ids_ = base + kTokenFileHeaderBytes;
  check_header(path, base, expected);
  if (verify_checksum) {
    ::madvise(map, file->map_bytes_, MADV_SEQUENTIAL);
    const uint32_t crc = crc32c(file->ids_, file->map_bytes_ - kTokenFileHeaderBytes);
    TFM_CHECK(crc == expected.crc32c, path, ": the token bytes (", kTokenFileHeaderBytes, " to ", bytes,
              ") have checksum ", crc, ", expected ", expected.crc32c, ": corrupt");
  }
  // Training reads short windows at random places: no read-ahead.
  ::madvise(map, file->map_bytes_, MADV_RANDOM);
  return file;
}

TokenFile::~TokenFile() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

void TokenFile::copy(int64_t first, int64_t n, int32_t* out) const {
  TFM_DCHECK(first >= 0 && n >= 0 && first + n <= tokens_, "token range out of the file");
  if (dtype_ == TokenDType::U16) {
    const unsigned char* p = ids_ + 2 * first;
    for (int64_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out[i] = v;
    }
  } else {
    const unsigned char* p = ids_ + 4 * first;
    for (int64_t i = 0; i < n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = static_cast<int32_t>(v);
    }
  }
}

}  // namespace tfm
