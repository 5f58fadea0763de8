#pragma once
// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78; the checksum
// of iSCSI, ext4 and Snappy framing): tfm's per-tensor checksums in
// safetensors metadata. SSE4.2's crc32 instruction where the CPU has it, a
// table otherwise; both give the same values (crc32c("123456789") = 0xE3069283).
#include <cstddef>
#include <cstdint>

namespace tfm {

// Continues `crc` (0 to start) over n bytes.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The portable table-driven version, exposed for tests.
uint32_t crc32c_portable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace tfm
