#include "gcs/hashes.h"

#include <openssl/evp.h>

#include "core/base64.h"

namespace eden::gcs {

std::string Md5Base64(std::span<const uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

ObjectHashes HashObject(std::span<const uint8_t> bytes) { return {Crc32cBase64(Crc32c(bytes)), Md5Base64(bytes)}; }

}  // namespace eden::gcs
