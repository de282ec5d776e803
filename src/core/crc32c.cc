#include "core/crc32c.h"

#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "core/base64.h"

namespace eden {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // Castagnoli, reflected.

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = MakeTable();

#if defined(__x86_64__)
/// The raw register after `n` bytes, one stream: the instruction's latency (3 cycles) bounds it.
__attribute__((target("sse4.2"))) uint64_t Crc32cRawSse42(const uint8_t* p, size_t n, uint64_t c) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  for (; n > 0; ++p, --n) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
  return c;
}

/// Three streams of this many bytes are hashed side by side (the instruction issues one a cycle),
/// then joined: the register is linear, so
///   R(c, A|B|C) = Z(Z(R(c, A)) ^ R(0, B)) ^ R(0, C),  Z(x) = R(x, kStride zero bytes),
/// and Z, linear in its 32 bits, is four 256-entry tables (as in Mark Adler's crc32c.c).
constexpr size_t kStride = 8192;

struct ZerosOperator {
  std::array<std::array<uint32_t, 256>, 4> table{};
  __attribute__((target("sse4.2"))) ZerosOperator() {
    const std::vector<uint8_t> zeros(kStride, 0);
    std::array<uint32_t, 32> bit{};
    for (int i = 0; i < 32; ++i) bit[i] = static_cast<uint32_t>(Crc32cRawSse42(zeros.data(), kStride, 1ull << i));
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t z = 0;
        for (int i = 0; i < 8; ++i)
          if (b & (1u << i)) z ^= bit[8 * k + i];
        table[k][b] = z;
      }
    }
  }
  uint32_t operator()(uint32_t x) const {
    return table[0][x & 0xFF] ^ table[1][(x >> 8) & 0xFF] ^ table[2][(x >> 16) & 0xFF] ^ table[3][x >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(std::span<const uint8_t> bytes, uint32_t crc) {
  static const ZerosOperator shift;
  uint64_t c = static_cast<uint32_t>(~crc);
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 3 * kStride; p += 3 * kStride, n -= 3 * kStride) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kStride; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kStride + i, 8);
      std::memcpy(&wd, p + 2 * kStride + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
  }
  return ~static_cast<uint32_t>(Crc32cRawSse42(p, n, c));
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Crc32cPortable(std::span<const uint8_t> bytes, uint32_t crc) {
  uint32_t c = ~crc;
  for (uint8_t b : bytes) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t Crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
#if defined(__x86_64__)
  if (HasSse42()) return Crc32cSse42(bytes, crc);
#endif
  return Crc32cPortable(bytes, crc);
}

std::string Crc32cBase64(uint32_t crc) {
  const char be[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16), static_cast<char>(crc >> 8),
                      static_cast<char>(crc)};
  return Base64Encode(std::string_view(be, 4));
}

}  // namespace eden
