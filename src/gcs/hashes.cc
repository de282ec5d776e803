#include "gcs/hashes.h"

#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "digest/digest.h"

namespace eden::gcs {

std::string Md5Base64(std::span<const uint8_t> bytes) { return digest::Md5Base64(bytes); }

ObjectHashes HashObject(std::span<const uint8_t> bytes) { return {Crc32cBase64(Crc32c(bytes)), ""}; }

Result<FileHashes> HashFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  std::vector<char> buffer(size_t{4} << 20);
  uint32_t crc = 0;
  FileHashes out;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    const std::span<const uint8_t> piece(reinterpret_cast<const uint8_t*>(buffer.data()), n);
    crc = Crc32c(piece, crc);
    out.size += n;
  }
  if (in.bad()) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  out.hashes = {Crc32cBase64(crc), ""};
  return out;
}

}  // namespace eden::gcs
