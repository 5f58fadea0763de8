// Token files (tools/data/token_file.h): the dtype choice at the uint16 limit,
// the byte layout (decoded here by hand from the documented format), and
// open() refusing torn, truncated, foreign or corrupt files with the file
// and byte offset named.
#include "tools/data/token_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

uint64_t little_endian(const std::string& bytes, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return v;
}

TokenFileSummary write_ids(const std::string& path, TokenDType dtype, const std::vector<int32_t>& ids) {
  return write_token_file(path, dtype, [&](const TokenAppender& append) {
    // In three parts, as a prepare step appends piece by piece.
    const size_t third = ids.size() / 3;
    append(std::vector<int32_t>(ids.begin(), ids.begin() + third));
    append({});
    append(std::vector<int32_t>(ids.begin() + third, ids.end()));
  });
}

std::vector<int32_t> read_all(const TokenFile& f) {
  std::vector<int32_t> out(static_cast<size_t>(f.size()));
  f.copy(0, f.size(), out.data());
  return out;
}

TEST(TokenDTypeFor, Uint16HoldsIdsUpTo65535ThenUint32) {
  EXPECT_EQ(token_dtype_for(1), TokenDType::U16);
  EXPECT_EQ(token_dtype_for(65535), TokenDType::U16);
  EXPECT_EQ(token_dtype_for(65536), TokenDType::U16);  // ids 0..65535
  EXPECT_EQ(token_dtype_for(65537), TokenDType::U32);  // id 65536 does not fit
  EXPECT_EQ(std::string(token_dtype_name(TokenDType::U16)), "uint16");
  EXPECT_EQ(parse_token_dtype("uint32"), TokenDType::U32);
  EXPECT_FALSE(parse_token_dtype("int8").has_value());
}

TEST(TokenFile, BytesFollowTheDocumentedLayoutAndMapBack) {
  TempDir dir;
  for (TokenDType dtype : {TokenDType::U16, TokenDType::U32}) {
    std::vector<int32_t> ids = {0, 1, 7, 13, 255, 256, 65535, 33, 1000};
    if (dtype == TokenDType::U32) ids.insert(ids.end(), {65536, 70000, 2000000000});
    const std::string path = dir.path(std::string(token_dtype_name(dtype)) + ".tokens");
    const TokenFileSummary s = write_ids(path, dtype, ids);
    const size_t width = dtype == TokenDType::U16 ? 2 : 4;
    const std::string bytes = slurp(path);
    ASSERT_EQ(bytes.size(), 64 + width * ids.size());
    EXPECT_EQ(bytes.substr(0, 8), "TFMTOKNS");
    EXPECT_EQ(little_endian(bytes, 8, 4), 1u);
    EXPECT_EQ(little_endian(bytes, 12, 4), width);
    EXPECT_EQ(little_endian(bytes, 16, 8), ids.size());
    EXPECT_EQ(little_endian(bytes, 24, 4), crc32c(bytes.data() + 64, bytes.size() - 64));
    EXPECT_EQ(bytes.substr(28, 36), std::string(36, '\0'));
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_EQ(little_endian(bytes, 64 + width * i, width), static_cast<uint64_t>(ids[i])) << i;
    EXPECT_EQ(s.tokens, static_cast<int64_t>(ids.size()));
    EXPECT_EQ(s.crc32c, little_endian(bytes, 24, 4));
    auto file = TokenFile::open(path, s);
    EXPECT_EQ(file->size(), static_cast<int64_t>(ids.size()));
    EXPECT_EQ(read_all(*file), ids);
    std::vector<int32_t> middle(3);
    file->copy(4, 3, middle.data());
    EXPECT_EQ(middle, std::vector<int32_t>(ids.begin() + 4, ids.begin() + 7));
  }
}

TEST(TokenFile, AnIdOutsideTheDtypeIsAnErrorAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.path("t.tokens");
  EXPECT_CONTAINS(error_message([&] { write_ids(path, TokenDType::U16, {1, 2, 3, 65536}); }),
                  "token 3 is id 65536, outside the uint16 range");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 0);
}

// Rewrites byte `offset` of the file.
void poke(const std::string& path, int64_t offset, char value) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.put(value);
}

TEST(TokenFile, OpenRefusesTornForeignAndCorruptFilesNamingFileAndOffset) {
  TempDir dir;
  const std::string path = dir.path("t.tokens");
  std::vector<int32_t> ids(100);
  for (int i = 0; i < 100; ++i) ids[i] = (i * 37) % 500;
  const TokenFileSummary s = write_ids(path, TokenDType::U16, ids);
  const std::string good = slurp(path);
  auto restore = [&] { std::ofstream(path, std::ios::binary) << good; };

  // Truncated (a torn write): the size no longer matches the count.
  std::filesystem::resize_file(path, good.size() - 1);
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, s); }),
                  path + ": 263 bytes, expected 264 (a 64-byte header and 100 uint16 tokens from its manifest)");
  restore();
  // Longer than its count says (another write's tail, or foreign bytes appended).
  std::ofstream(path, std::ios::binary | std::ios::app) << "xy";
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, s); }), path + ": 266 bytes, expected 264");
  restore();
  // The manifest expects another dtype or count.
  TokenFileSummary wide = s;
  wide.dtype = TokenDType::U32;
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, wide); }), "264 bytes, expected 464");
  // Foreign bytes where the header should be.
  poke(path, 3, 'x');
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, s); }), path + ": bytes 0-7 are not \"TFMTOKNS\"");
  restore();
  poke(path, 12, 4);
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, s); }), path + ": 4 bytes per token at byte 12, expected 2");
  restore();
  TokenFileSummary other_crc = s;
  other_crc.crc32c ^= 1;
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, other_crc); }), "at byte 24, expected");
  // One token byte flipped: only the checksum sees it.
  poke(path, 64 + 2 * 50, static_cast<char>(good[64 + 2 * 50] ^ 0x10));
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(path, s); }), path + ": the token bytes (64 to 264) have checksum");
  EXPECT_NO_THROW(TokenFile::open(path, s, /*verify_checksum=*/false));
  restore();
  EXPECT_EQ(read_all(*TokenFile::open(path, s)), ids);
  EXPECT_CONTAINS(error_message([&] { TokenFile::open(dir.path("missing.tokens"), s); }), "cannot open");
}

}  // namespace
}  // namespace tfm
