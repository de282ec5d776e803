#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace eden::digest {

/// SHA-256 of `bytes`: the 32 raw bytes, or as 64 lower-case hex digits.
std::array<uint8_t, 32> Sha256(std::span<const uint8_t> bytes);
std::string Sha256Hex(std::span<const uint8_t> bytes);
std::string Sha256Hex(std::string_view text);

/// The digests eden records for every object it stores: SHA-256 (the CSV, the journal) and
/// CRC-32C (what GCS checks and lists), computed in one pass over the bytes, 256 KiB at a time,
/// so that each piece is read from memory once and hashed twice while it is in cache.
struct ContentDigests {
  std::string sha256_hex;
  uint32_t crc32c = 0;
};
ContentDigests DigestContent(std::span<const uint8_t> bytes);

/// HMAC-SHA256 of `message` under `key` (the 32 raw bytes).
std::array<uint8_t, 32> HmacSha256(std::span<const uint8_t> key, std::string_view message);

/// `count` bytes from the operating system's cryptographic random source; empty if it fails.
std::string RandomBytes(size_t count);

/// Lower-case hex of `bytes`.
std::string Hex(std::span<const uint8_t> bytes);

/// base64 of the MD5 digest (GCS's md5Hash).
std::string Md5Base64(std::span<const uint8_t> bytes);

/// MD5 over data that comes in pieces (a file read a few MiB at a time).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(std::span<const uint8_t> bytes);
  /// base64 of the digest of everything updated so far; ends the computation.
  std::string FinishBase64();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// SHA-256 over data that comes in pieces (a WebDataset shard as it is written).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::span<const uint8_t> bytes);
  /// Lower-case hex of the digest of everything updated so far; ends the computation.
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace eden::digest
