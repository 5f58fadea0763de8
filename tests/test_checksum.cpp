// core/checksum: CRC32C against the published check value and the test vectors
// of RFC 3720 (iSCSI), B.4, and the hardware path against the table path on
// every length and alignment that exercises their edges.
#include <cstdint>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "test_util.h"

namespace tfm {
namespace {

TEST(Crc32c, KnownValues) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) up[i] = static_cast<unsigned char>(i), down[i] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesAcrossChunksAndMatchesTheTableOnEveryLengthAndAlignment) {
  std::vector<unsigned char> bytes(1100);
  uint32_t x = 12345;
  for (auto& b : bytes) b = static_cast<unsigned char>((x = x * 1103515245u + 12345u) >> 16);
  for (size_t offset = 0; offset < 9; ++offset)
    for (size_t n = 0; n <= 70; ++n)
      ASSERT_EQ(crc32c(bytes.data() + offset, n), crc32c_portable(bytes.data() + offset, n))
          << "offset " << offset << " length " << n;
  const uint32_t whole = crc32c(bytes.data(), bytes.size());
  EXPECT_EQ(crc32c(bytes.data() + 333, bytes.size() - 333, crc32c(bytes.data(), 333)), whole);
  EXPECT_EQ(crc32c_portable(bytes.data(), bytes.size()), whole);
  bytes[700] ^= 4;
  EXPECT_NE(crc32c(bytes.data(), bytes.size()), whole);
}

}  // namespace
}  // namespace tfm
