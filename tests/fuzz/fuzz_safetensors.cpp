// parse_safetensors on arbitrary bytes: the header length, the JSON header, the
// dtypes, shapes and offsets, the metadata and tfm's CRC32C checksums. What it
// accepts must save and parse back to the same tensors and metadata.
#include <cstring>

#include "core/safetensors.h"
#include "fuzz.h"

namespace tfm::fuzz {

void safetensors(std::string_view input) {
  const SafetensorsContents contents = parse_safetensors(std::string(input), "fuzz.safetensors");
  for (const auto& [name, t] : contents.tensors)
    TFM_FUZZ_EXPECT(static_cast<uint64_t>(t.nbytes()) <= input.size(), "tensor \"", name, "\" holds ", t.nbytes(),
                    " bytes, more than the ", input.size(), " of the file");
  std::string path;
  try {
    path = scratch_file("roundtrip.safetensors", "");
    save_safetensors(path, contents.tensors, contents.metadata);
  } catch (const Error&) {
    return;  // names the writer refuses (empty, "__metadata__") are the reader's to accept
  }
  SafetensorsContents again;
  try {
    again = load_safetensors(path);
  } catch (const Error& e) {
    TFM_FUZZ_EXPECT(false, "a file save_safetensors wrote does not load: ", e.what());
  }
  TFM_FUZZ_EXPECT(again.metadata == contents.metadata, "metadata changed in a save/load round trip");
  TFM_FUZZ_EXPECT(again.tensors.size() == contents.tensors.size(), "tensor count changed in a round trip");
  for (size_t i = 0; i < again.tensors.size(); ++i) {
    const auto& [name, t] = contents.tensors[i];
    const Tensor* u = again.find(name);
    TFM_FUZZ_EXPECT(u != nullptr && u->dtype() == t.dtype() && u->shape() == t.shape() && u->nbytes() == t.nbytes() &&
                        (t.nbytes() == 0 || std::memcmp(u->raw_data(), t.raw_data(), t.nbytes()) == 0),
                    "tensor \"", name, "\" changed in a save/load round trip");
  }
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::safetensors)
