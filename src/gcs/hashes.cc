#include "gcs/hashes.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/base64.h"

namespace eden::gcs {

std::string Md5Base64(std::span<const uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

ObjectHashes HashObject(std::span<const uint8_t> bytes) { return {Crc32cBase64(Crc32c(bytes)), Md5Base64(bytes)}; }

Result<FileHashes> HashFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md5(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr);
  std::vector<char> buffer(size_t{4} << 20);
  uint32_t crc = 0;
  FileHashes out;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    crc = Crc32c({reinterpret_cast<const uint8_t*>(buffer.data()), n}, crc);
    EVP_DigestUpdate(md5.get(), buffer.data(), n);
    out.size += n;
  }
  if (in.bad()) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(md5.get(), digest, &length);
  out.hashes = {Crc32cBase64(crc), Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length))};
  return out;
}

}  // namespace eden::gcs
