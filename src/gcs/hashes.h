#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "core/crc32c.h"
#include "core/result.h"

namespace eden::gcs {

/// base64 of the MD5 digest, as GCS's md5Hash.
std::string Md5Base64(std::span<const uint8_t> bytes);

/// The hashes sent with an upload, in GCS's text form; GCS checks each one given against the
/// bytes it received (400 on a mismatch) and stores nothing then. eden sends CRC-32C only: it is
/// what GCS keeps for every object (composite ones too), what listings and the rerun check
/// compare, and ~30x cheaper than MD5 (which GCS computes itself for objects uploaded whole).
struct ObjectHashes {
  std::string crc32c;  ///< base64 of the big-endian CRC-32C
  std::string md5;     ///< base64; empty: not sent
};
/// CRC-32C of `bytes` (no MD5).
ObjectHashes HashObject(std::span<const uint8_t> bytes);

/// The CRC-32C and the size of a file, read a few MiB at a time. kIo if it cannot be read.
struct FileHashes {
  ObjectHashes hashes;
  uint64_t size = 0;
};
Result<FileHashes> HashFile(const std::filesystem::path& path);

}  // namespace eden::gcs
