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

/// Both hashes GCS checks on upload, in GCS's text form.
struct ObjectHashes {
  std::string crc32c;  ///< base64 of the big-endian CRC-32C
  std::string md5;     ///< base64
};
ObjectHashes HashObject(std::span<const uint8_t> bytes);

/// Both hashes and the size of a file, read a few MiB at a time. kIo if it cannot be read.
struct FileHashes {
  ObjectHashes hashes;
  uint64_t size = 0;
};
Result<FileHashes> HashFile(const std::filesystem::path& path);

}  // namespace eden::gcs
