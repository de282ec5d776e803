#include "digest/digest.h"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/base64.h"
#include "core/crc32c.h"

namespace eden::digest {
namespace {

std::string Base64Of(const unsigned char* digest, unsigned int length) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> bytes) {
  std::array<uint8_t, 32> out{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string Sha256Hex(std::span<const uint8_t> bytes) { return Hex(Sha256(bytes)); }

ContentDigests DigestContent(std::span<const uint8_t> bytes) {
  constexpr size_t kPiece = size_t{256} << 10;
  Sha256Stream sha;
  ContentDigests out;
  for (size_t at = 0; at < bytes.size(); at += kPiece) {
    const auto piece = bytes.subspan(at, std::min(kPiece, bytes.size() - at));
    sha.Update(piece);
    out.crc32c = Crc32c(piece, out.crc32c);
  }
  out.sha256_hex = sha.FinishHex();
  return out;
}

std::array<uint8_t, 32> HmacSha256(std::span<const uint8_t> key, std::string_view message) {
  std::array<uint8_t, 32> out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out.data(), &length);
  return out;
}

std::string RandomBytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) return {};
  return out;
}

std::string Sha256Hex(std::string_view text) {
  return Sha256Hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string Md5Base64(std::span<const uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
  return Base64Of(digest, length);
}

struct Sha256Stream::State {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  EVP_DigestInit_ex(state_->ctx.get(), EVP_sha256(), nullptr);
}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::span<const uint8_t> bytes) {
  EVP_DigestUpdate(state_->ctx.get(), bytes.data(), bytes.size());
}

std::string Sha256Stream::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx.get(), digest, &length);
  return Hex({digest, length});
}

struct Md5::State {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Md5::Md5() : state_(std::make_unique<State>()) { EVP_DigestInit_ex(state_->ctx.get(), EVP_md5(), nullptr); }
Md5::~Md5() = default;

void Md5::Update(std::span<const uint8_t> bytes) { EVP_DigestUpdate(state_->ctx.get(), bytes.data(), bytes.size()); }

std::string Md5::FinishBase64() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx.get(), digest, &length);
  return Base64Of(digest, length);
}

}  // namespace eden::digest
