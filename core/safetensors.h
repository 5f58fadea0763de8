#pragma once
// safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, a JSON header of N bytes mapping each tensor
// name to {dtype, shape, data_offsets} (plus "__metadata__": string → string),
// then the raw little-endian tensor bytes. Written atomically; every read is
// validated (header length, JSON, dtypes, shapes, offsets in bounds and not
// overlapping, checksums) with errors that name the file, the tensor and byte
// offsets.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tfm {

// tfm writes the CRC32C of each tensor's bytes into __metadata__ under this
// key, as a JSON object string {"name": "8 hex digits", ...}, and verifies it on
// load (an error names the tensor). Files without it (PyTorch's, older tfm's)
// load unchecked. The key is removed from the metadata a load returns.
inline constexpr const char* kChecksumKey = "crc32c";
// The header limit of the reference implementation (safetensors' MAX_HEADER_SIZE).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct SafetensorsContents {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (by offset)
  const Tensor* find(const std::string& name) const;
};

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);
SafetensorsContents load_safetensors(const std::string& path);
// Parses file bytes already in memory; `source` names them in errors.
SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& source);

}  // namespace tfm
