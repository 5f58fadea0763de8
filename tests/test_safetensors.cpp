// core/safetensors: bitwise round trips, the byte layout of the spec
// (https://github.com/huggingface/safetensors: 8-byte little-endian header
// length, JSON header, data offsets relative to the end of the header), and a
// clear tfm::Error for each kind of corrupted, truncated or inconsistent file.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/io.h"
#include "core/safetensors.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "tfm_safetensors_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

// An 8-byte little-endian length, the header, then the data bytes.
std::string file_bytes(const std::string& header, const std::string& data, int64_t length_override = -1) {
  const uint64_t n = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected tfm::Error";
  return "";
}

// CRC32C bit by bit from its definition (reflected polynomial 0x82F63B78,
// initial and final complement), independent of core/checksum's tables.
std::string crc32c_hex_reference(const void* data, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= static_cast<const unsigned char*>(data)[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", ~c);
  return hex;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST_F(Safetensors, RoundTripIsBitwiseForEveryDtypeWithMetadata) {
  Tensor f = random_tensor({3, 5, 7}, 1);
  f.data()[0] = -0.0f;
  f.data()[1] = std::numeric_limits<float>::denorm_min();
  Tensor ids = random_ids({13}, 1000, 2);
  Tensor bf = Tensor::empty({2, 3}, DType::BF16);
  for (int i = 0; i < 6; ++i) static_cast<uint16_t*>(bf.raw_data())[i] = static_cast<uint16_t>(0x3f80 + 17 * i);
  Tensor scalar = Tensor::full({1}, 3.5f);
  const std::vector<std::pair<std::string, Tensor>> tensors{
      {"b.weight", f}, {"ids", ids}, {"a.bf16", bf}, {"s", scalar}};
  const std::map<std::string, std::string> meta{{"config", "{\"type\": \"lm\"}"}, {"note", "ünïcode ✓"}};
  save_safetensors(path("x.safetensors"), tensors, meta);
  const SafetensorsContents c = load_safetensors(path("x.safetensors"));
  EXPECT_EQ(c.metadata, meta);
  ASSERT_EQ(c.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(c.tensors[i].first, tensors[i].first) << "file order is offset order";
    EXPECT_TRUE(bitwise_equal(c.tensors[i].second, tensors[i].second)) << tensors[i].first;
  }
  ASSERT_NE(c.find("ids"), nullptr);
  EXPECT_EQ(c.find("missing"), nullptr);
  // Written atomically: no temporary file left beside the target.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir_)) ++files, (void)entry;
  EXPECT_EQ(files, 1);
}

TEST_F(Safetensors, FileLayoutFollowsTheSpec) {
  const Tensor a = random_tensor({2, 3}, 3), b = random_ids({5}, 9, 4);
  save_safetensors(path("y.safetensors"), {{"a", a}, {"b", b}}, {{"k", "v"}});
  const std::string bytes = read_file(path("y.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "data start aligned to 8 bytes (header padded with spaces)";
  ASSERT_EQ(bytes.size(), 8 + n + a.nbytes() + b.nbytes());
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"].size(), 2u) << header["__metadata__"].dump();
  EXPECT_EQ(header["__metadata__"]["k"], "v");
  const nlohmann::json crc = nlohmann::json::parse(header["__metadata__"]["crc32c"].get<std::string>());
  EXPECT_EQ(crc, (nlohmann::json{{"a", crc32c_hex_reference(a.raw_data(), 24)},
                                 {"b", crc32c_hex_reference(b.raw_data(), 20)}}));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], (nlohmann::json{2, 3}));
  EXPECT_EQ(header["a"]["data_offsets"], (nlohmann::json{0, 24}));
  EXPECT_EQ(header["b"]["dtype"], "I32");
  EXPECT_EQ(header["b"]["data_offsets"], (nlohmann::json{24, 44}));
  // Raw little-endian values at 8 + N + offset.
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + n, a.raw_data(), 24), 0);
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + n + 24, b.raw_data(), 20), 0);
  const unsigned char* first = reinterpret_cast<const unsigned char*>(bytes.data() + 8 + n);
  uint32_t bits;
  std::memcpy(&bits, a.raw_data(), 4);
  EXPECT_EQ(first[0], bits & 0xff) << "little-endian";
  EXPECT_EQ(first[3], bits >> 24);
}

TEST_F(Safetensors, HandWrittenFileParses) {
  // As another writer would produce it: no padding, no metadata, tensors out of order.
  const float values[3] = {1.0f, -2.0f, 0.5f};
  const int32_t ids[2] = {7, -1};
  std::string data(reinterpret_cast<const char*>(ids), 8);
  data.append(reinterpret_cast<const char*>(values), 12);
  const std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},)"
                             R"("i":{"dtype":"I32","shape":[1,2],"data_offsets":[0,8]}})";
  const SafetensorsContents c = parse_safetensors(file_bytes(header, data), "hand.safetensors");
  ASSERT_EQ(c.tensors.size(), 2u);
  EXPECT_EQ(c.tensors[0].first, "i");
  EXPECT_EQ(c.find("i")->data_i32()[1], -1);
  EXPECT_EQ(c.find("w")->shape(), Shape({3}));
  EXPECT_EQ(c.find("w")->at(1), -2.0f);
  EXPECT_TRUE(c.metadata.empty());
}

TEST_F(Safetensors, CorruptFilesGiveClearErrors) {
  const std::string ok_entry = R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data16(16, '\1');
  EXPECT_CONTAINS(parse_error(std::string(5, '\0')),
                  "bad.safetensors: not a safetensors file: 5 bytes, expected at least 8");
  EXPECT_CONTAINS(parse_error(file_bytes(ok_entry, data16, 1000)), "header length 1000 (bytes 0-7) exceeds the file");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F32",)", data16)), "is not valid JSON");
  EXPECT_CONTAINS(parse_error(file_bytes("[1, 2]", "")), "header must be a JSON object");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", data16)),
                  "tensor \"t\": unsupported dtype F64");
  EXPECT_CONTAINS(parse_error(file_bytes(ok_entry, data16.substr(0, 10))), "tensor \"t\": data_offsets [0, 16)");
  EXPECT_CONTAINS(parse_error(file_bytes(ok_entry, data16.substr(0, 10))), "truncated?");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", data16)),
                  "tensor \"t\": 12 bytes for F32 [2, 2], expected 16");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                         data16)),
                  "tensors \"a\" and \"b\" overlap at data byte 4");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[2]}})", data16)),
                  "tensor \"t\": expected {dtype, shape, data_offsets}");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data16)),
                  "tensor \"t\": bad shape [-2]");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data16)),
                  "tensor \"t\": data_offsets [8, 0)");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__":{"n":1}})", "")), "__metadata__.n must be a string");
}

TEST_F(Safetensors, TruncatedSavedFileIsRejectedOnLoad) {
  save_safetensors(path("t.safetensors"), {{"w", random_tensor({4, 4}, 5)}, {"v", random_tensor({3}, 6)}}, {});
  std::string bytes = read_file(path("t.safetensors"));
  write_file_atomic(path("t.safetensors"), bytes.substr(0, bytes.size() - 3));
  try {
    load_safetensors(path("t.safetensors"));
    ADD_FAILURE() << "truncated file loaded";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), path("t.safetensors"));
    EXPECT_CONTAINS(e.what(), "tensor \"v\"");
    EXPECT_CONTAINS(e.what(), "truncated?");
  }
  try {
    load_safetensors(path("absent.safetensors"));
    ADD_FAILURE() << "missing file loaded";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "file not found");
  }
}

TEST_F(Safetensors, SaveRejectsInvalidNames) {
  EXPECT_THROW(save_safetensors(path("d.safetensors"), {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}}, {}),
               Error);
  EXPECT_THROW(save_safetensors(path("m.safetensors"), {{"__metadata__", Tensor::zeros({1})}}, {}), Error);
  EXPECT_THROW(save_safetensors(path("no_dir/x.safetensors"), {{"a", Tensor::zeros({1})}}, {}), Error);
}

TEST_F(Safetensors, FlippedDataBitIsReportedWithTheTensorName) {
  save_safetensors(path("c.safetensors"), {{"w", random_tensor({4, 4}, 5)}, {"v", random_tensor({3}, 6)}}, {});
  std::string bytes = read_file(path("c.safetensors"));
  // The last byte belongs to "v", the second tensor; flip one bit of it.
  bytes.back() = static_cast<char>(bytes.back() ^ 0x10);
  const std::string e = parse_error(bytes);
  EXPECT_CONTAINS(e, "tensor \"v\" is corrupted: CRC32C of its 12 bytes");
  EXPECT_CONTAINS(e, "the file records ");
  // A flip in the first tensor names that one.
  bytes.back() = static_cast<char>(bytes.back() ^ 0x10);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  bytes[8 + n + 5] = static_cast<char>(bytes[8 + n + 5] ^ 1);
  EXPECT_CONTAINS(parse_error(bytes), "tensor \"w\" is corrupted");
}

TEST_F(Safetensors, ChecksumsAreOptionalButCompleteWhenPresent) {
  const std::string data16(16, '\1');
  const std::string t = R"("t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  // Without the key (PyTorch's files): loads unchecked.
  EXPECT_EQ(parse_safetensors(file_bytes("{" + t + "}", data16), "torch.safetensors").tensors.size(), 1u);
  // With the right value: loads, and the key is not part of the metadata returned.
  const std::string good = crc32c_hex_reference(data16.data(), 16);
  const SafetensorsContents c = parse_safetensors(
      file_bytes(R"({"__metadata__":{"crc32c":"{\"t\":\")" + good + R"(\"}","x":"y"},)" + t + "}", data16), "ok");
  EXPECT_EQ(c.metadata, (std::map<std::string, std::string>{{"x", "y"}}));
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__":{"crc32c":"{}"},)" + t + "}", data16)),
                  "tensor \"t\" has no checksum");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__":{"crc32c":"{\"u\":\"00000000\"}"},)" + t + "}", data16)),
                  "lists tensor \"u\", which the file does not hold");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__":{"crc32c":"[1]"},)" + t + "}", data16)),
                  "must map tensor names to CRC32C values");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__":{"crc32c":"{\"t\":\"deadbeef\"}"},)" + t + "}", data16)),
                  "tensor \"t\" is corrupted");
  EXPECT_CONTAINS(error_message([&] { save_safetensors(path("r.safetensors"), {}, {{"crc32c", "x"}}); }),
                  "\"crc32c\" is reserved");
}

TEST_F(Safetensors, HostileSizesGiveErrorsBeforeAllocating) {
  const std::string data16(16, '\1');
  // A header length of 2^62 (and one just past safetensors' own 100 MB limit).
  EXPECT_CONTAINS(parse_error(file_bytes("{}", "", int64_t{1} << 62)), "exceeds the limit of 100000000 bytes");
  EXPECT_CONTAINS(parse_error(file_bytes("{}", "", 100'000'001)), "exceeds the limit");
  // A shape of 2^40 elements whose bytes the file does not hold.
  EXPECT_CONTAINS(parse_error(file_bytes(
                      R"({"t":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4398046511104]}})", data16)),
                  "outside the 16 data bytes");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,16]}})",
                                         data16)),
                  "16 bytes for F32 [1048576, 1048576], expected 4398046511104");
  // Extents whose product wraps around 2^64 to 0 elements (which 0 data bytes would match).
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
                                         "")),
                  "has more than 2^60 elements");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})",
                                         "")),
                  "bad shape");
  // Nesting a million levels deep would overflow the stack in nlohmann's recursive dump and copy.
  const std::string deep = R"({"__metadata__":{"x":"y"},"t":)" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  EXPECT_CONTAINS(parse_error(file_bytes(deep, "")), "JSON nests deeper than 64 levels at byte ");
}

}  // namespace
}  // namespace tfm
