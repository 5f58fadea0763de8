#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/checksum.h"
#include "core/config.h"
#include "core/io.h"

namespace tfm {

namespace {

std::string crc32c_hex(uint32_t crc) {
  static const char* digits = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, crc >>= 4) s[i] = digits[crc & 15];
  return s;
}

}  // namespace

const Tensor* SafetensorsContents::find(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (auto& [k, v] : metadata) {
    TFM_CHECK(k != kChecksumKey, "safetensors: metadata key \"", kChecksumKey, "\" is reserved for tfm's checksums");
    meta[k] = v;
  }
  nlohmann::ordered_json checksums = nlohmann::ordered_json::object();
  for (auto& [name, t] : tensors) checksums[name] = crc32c_hex(crc32c(t.raw_data(), t.nbytes()));
  meta[kChecksumKey] = checksums.dump();
  header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (auto& [name, t] : tensors) {
    TFM_CHECK(name != "__metadata__" && !name.empty(), "safetensors: invalid tensor name \"", name, "\"");
    TFM_CHECK(!header.contains(name), "safetensors: duplicate tensor name \"", name, "\"");
    nlohmann::ordered_json shape = nlohmann::ordered_json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // align the data to 8 bytes
  write_file_atomic(path, [&](std::ostream& out) {
    uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (auto& [name, t] : tensors)
      out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  });
}

SafetensorsContents load_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

namespace {
// One tensor of the header: its name, dtype, shape and byte range within the data section.
struct HeaderEntry {
  std::string name;
  uint64_t begin, end;
  DType dtype;
  Shape shape;
};

// The 8-byte length and the JSON header after it; data_begin receives the first data byte.
nlohmann::json parse_header(const std::string& bytes, const std::string& src, uint64_t& data_begin) {
  TFM_CHECK(bytes.size() >= 8, src, ": not a safetensors file: ", bytes.size(), " bytes, expected at least 8");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  TFM_CHECK(n <= kMaxHeaderBytes, src, ": header length ", n, " (bytes 0-7) exceeds the limit of ", kMaxHeaderBytes,
            " bytes");
  TFM_CHECK(n <= bytes.size() - 8, src, ": header length ", n, " (bytes 0-7) exceeds the file: only ",
            bytes.size() - 8, " bytes follow");
  check_json_bounds(std::string_view(bytes).substr(8, n), src + " (header, bytes 8-" + std::to_string(8 + n) + ")");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    TFM_FAIL(src, ": header (bytes 8-", 8 + n, ") is not valid JSON: ", e.what());
  }
  TFM_CHECK(header.is_object(), src, ": header must be a JSON object");
  data_begin = 8 + n;
  return header;
}

DType parse_dtype(const nlohmann::json& dt, const std::string& src, const std::string& name) {
  TFM_CHECK(dt.is_string(), src, ": tensor \"", name, "\": dtype must be a string");
  const std::string d = dt.get<std::string>();
  if (d == "F32") return DType::F32;
  if (d == "BF16") return DType::BF16;
  if (d == "I32") return DType::I32;
  TFM_FAIL(src, ": tensor \"", name, "\": unsupported dtype ", d, " (expected F32, BF16 or I32)");
}

// A tensor's header entry, checked against the data section of data_size bytes (file size file_size).
HeaderEntry parse_entry(const std::string& name, const nlohmann::json& info, const std::string& src,
                        uint64_t data_begin, uint64_t file_size) {
  TFM_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
            src, ": tensor \"", name, "\": expected {dtype, shape, data_offsets}, found ", info.dump());
  HeaderEntry e;
  e.name = name;
  e.dtype = parse_dtype(info["dtype"], src, name);
  const auto& sh = info["shape"];
  TFM_CHECK(sh.is_array() && sh.size() <= Shape::kMaxDims, src, ": tensor \"", name, "\": bad shape ", sh.dump());
  std::vector<int64_t> dims;
  for (auto& x : sh) {
    TFM_CHECK(x.is_number_unsigned() && x.get<uint64_t>() <= (uint64_t{1} << 62), src, ": tensor \"", name,
              "\": bad shape ", sh.dump(), " (expected non-negative integers)");
    dims.push_back(x.get<int64_t>());
  }
  e.shape = Shape(std::span<const int64_t>(dims));
  const auto& off = info["data_offsets"];
  TFM_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), src,
            ": tensor \"", name, "\": data_offsets must be [begin, end], found ", off.dump());
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  const uint64_t data_size = file_size - data_begin;
  TFM_CHECK(e.begin <= e.end && e.end <= data_size, src, ": tensor \"", name, "\": data_offsets [", e.begin, ", ",
            e.end, ") (file bytes ", data_begin + e.begin, "-", data_begin + e.end, ") outside the ", data_size,
            " data bytes (file is ", file_size, " bytes; truncated?)");
  const uint64_t expected = static_cast<uint64_t>(e.shape.numel()) * dtype_size(e.dtype);
  TFM_CHECK(e.end - e.begin == expected, src, ": tensor \"", name, "\": ", e.end - e.begin, " bytes for ",
            info["dtype"].get<std::string>(), " ", e.shape, ", expected ", expected);
  return e;
}

// Checksums (tfm's files; absent from files other writers made): every tensor
// listed, nothing else. Taken out of metadata; null when the file has none.
nlohmann::json take_checksums(std::map<std::string, std::string>& metadata, const std::vector<HeaderEntry>& entries,
                              const std::string& src) {
  auto it = metadata.find(kChecksumKey);
  if (it == metadata.end()) return nullptr;
  nlohmann::json checksums = parse_json(it->second, src + " (__metadata__." + kChecksumKey + ")");
  TFM_CHECK(checksums.is_object(), src, ": __metadata__.", kChecksumKey, " must map tensor names to CRC32C values");
  metadata.erase(it);
  std::set<std::string> names;
  for (const HeaderEntry& e : entries) names.insert(e.name);
  for (auto& [name, value] : checksums.items())
    TFM_CHECK(names.contains(name), src, ": __metadata__.", kChecksumKey, " lists tensor \"", name,
              "\", which the file does not hold");
  return checksums;
}

// Each CRC32C equal to that of the tensor's bytes.
void verify_checksum(const nlohmann::json& checksums, const HeaderEntry& e, const char* data, uint64_t data_begin,
                     const std::string& src) {
  const auto c = checksums.find(e.name);
  TFM_CHECK(c != checksums.end() && c->is_string(), src, ": tensor \"", e.name, "\" has no checksum in __metadata__.",
            kChecksumKey, " (the header was edited?)");
  const std::string computed = crc32c_hex(crc32c(data, e.end - e.begin));
  TFM_CHECK(c->get<std::string>() == computed, src, ": tensor \"", e.name, "\" is corrupted: CRC32C of its ",
            e.end - e.begin, " bytes (file bytes ", data_begin + e.begin, "-", data_begin + e.end, ") is ", computed,
            ", the file records ", c->get<std::string>());
}
}  // namespace

SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& src) {
  uint64_t data_begin = 0;
  const nlohmann::json header = parse_header(bytes, src, data_begin);
  SafetensorsContents out;
  std::vector<HeaderEntry> entries;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      TFM_CHECK(info.is_object(), src, ": __metadata__ must be an object of strings");
      for (auto& [k, v] : info.items()) {
        TFM_CHECK(v.is_string(), src, ": __metadata__.", k, " must be a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, info, src, data_begin, bytes.size()));
  }
  const nlohmann::json checksums = take_checksums(out.metadata, entries, src);
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) { return a.begin < b.begin; });
  uint64_t prev_end = 0;
  std::string prev_name;
  for (auto& e : entries) {
    TFM_CHECK(e.begin >= prev_end || e.begin == e.end, src, ": tensors \"", prev_name, "\" and \"", e.name,
              "\" overlap at data byte ", e.begin);
    prev_end = std::max(prev_end, e.end);
    prev_name = e.name;
    const char* data = bytes.data() + data_begin + e.begin;
    if (!checksums.is_null()) verify_checksum(checksums, e, data, data_begin, src);
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace tfm
