#include "deid/key.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "digest/digest.h"

namespace eden::deid {
namespace {

constexpr size_t kKeyBytes = 32;

std::span<const uint8_t> AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The decimal digits of a big-endian unsigned integer (long division by 10).
std::string Decimal(std::array<uint8_t, 16> v) {
  std::string digits;
  while (std::any_of(v.begin(), v.end(), [](uint8_t b) { return b != 0; })) {
    unsigned remainder = 0;
    for (uint8_t& b : v) {
      const unsigned cur = remainder * 256 + b;
      b = static_cast<uint8_t>(cur / 10);
      remainder = cur % 10;
    }
    digits.insert(digits.begin(), static_cast<char>('0' + remainder));
  }
  return digits.empty() ? "0" : digits;
}

}  // namespace

Result<Key> Key::Parse(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.size() != kKeyBytes * 2) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("a de-identification key is {} hex digits; this one has {} characters (make one with "
                            "'eden deid keygen')",
                            kKeyBytes * 2, text.size()));
  }
  std::string bytes;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  "a de-identification key is hex digits only (make one with 'eden deid keygen')");
    }
    bytes += static_cast<char>(hi * 16 + lo);
  }
  return Key(std::move(bytes));
}

Result<Key> Key::Generate() {
  std::string bytes = digest::RandomBytes(kKeyBytes);
  if (bytes.size() != kKeyBytes) return Fail(ErrorCode::kInternal, "the system's random source failed");
  return Key(std::move(bytes));
}

std::string Key::Hex() const { return digest::Hex(AsBytes(bytes_)); }

std::string Key::Fingerprint() const {
  std::string labelled = "eden-deid-key-fingerprint:" + bytes_;
  return "sha256:" + digest::Sha256Hex(AsBytes(labelled)).substr(0, 16);
}

std::string Key::Derive(std::string_view label) const {
  const auto mac = digest::HmacSha256(AsBytes(bytes_), fmt::format("derive:{}", label));
  return digest::Hex(mac);
}

std::string Key::MapUid(std::string_view uid) const {
  const auto mac = digest::HmacSha256(AsBytes(bytes_), fmt::format("uid:{}", uid));
  std::array<uint8_t, 16> v{};
  std::copy_n(mac.begin(), 16, v.begin());
  return "2.25." + Decimal(v);
}

int Key::DateOffsetDays(std::string_view patient) const {
  const auto mac = digest::HmacSha256(AsBytes(bytes_), fmt::format("days:{}", patient));
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | mac[i];
  return -static_cast<int>(1 + v % 3652);
}

std::string Key::PatientPseudonym(std::string_view patient) const {
  const auto mac = digest::HmacSha256(AsBytes(bytes_), fmt::format("patient:{}", patient));
  return "EDEN-" + digest::Hex(std::span<const uint8_t>(mac.data(), 8));
}

}  // namespace eden::deid
