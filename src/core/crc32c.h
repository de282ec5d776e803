#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace eden {

/// CRC-32C (Castagnoli, RFC 3720), the checksum GCS keeps for every object. `crc` continues
/// an earlier value, so a stream can be hashed in pieces. Uses the SSE4.2 instruction on three
/// interleaved streams when the CPU has it (21 GB/s here, against 7.5 GB/s for one stream and
/// 0.35 GB/s for the table version), the same answer either way.
uint32_t Crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

/// The table-driven version, exposed so tests can compare both paths.
uint32_t Crc32cPortable(std::span<const uint8_t> bytes, uint32_t crc = 0);

/// GCS's text form: base64 of the big-endian 4 bytes ("AAAAAA==" is 0).
std::string Crc32cBase64(uint32_t crc);

}  // namespace eden
