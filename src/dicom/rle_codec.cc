#include "dicom/rle_codec.h"

#include <algorithm>

#include <fmt/format.h>

namespace eden::dicom {
namespace {

uint32_t ReadLe32(std::span<const uint8_t> b, size_t at) {
  return uint32_t{b[at]} | (uint32_t{b[at + 1]} << 8) | (uint32_t{b[at + 2]} << 16) | (uint32_t{b[at + 3]} << 24);
}

/// PackBits (PS3.5 G.3.1): n in 0..127 copies n+1 literal bytes; n in -127..-1 repeats the next
/// byte 1-n times; -128 is a no-op. Writes exactly `out.size()` bytes or fails.
Status UnpackSegment(std::span<const uint8_t> in, std::span<uint8_t> out) {
  size_t i = 0;
  size_t o = 0;
  while (o < out.size()) {
    if (i >= in.size()) return Fail(ErrorCode::kCorruptPixelData, "RLE segment ends early");
    const auto n = static_cast<int8_t>(in[i++]);
    if (n >= 0) {
      const size_t count = static_cast<size_t>(n) + 1;
      if (i + count > in.size() || o + count > out.size()) {
        return Fail(ErrorCode::kCorruptPixelData, "RLE literal run overflows");
      }
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(i), count, out.begin() + static_cast<std::ptrdiff_t>(o));
      i += count;
      o += count;
    } else if (n != -128) {
      const size_t count = static_cast<size_t>(1 - n);
      if (i >= in.size() || o + count > out.size())
        return Fail(ErrorCode::kCorruptPixelData, "RLE replicate run overflows");
      std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(o), count, in[i++]);
      o += count;
    }
  }
  return {};
}

}  // namespace

Result<std::vector<uint8_t>> DecodeRleFrame(std::span<const uint8_t> frame, const imaging::PixelFormat& format) {
  if (frame.size() < 64) return Fail(ErrorCode::kCorruptPixelData, "RLE frame shorter than its 64-byte header");
  const size_t bytes_per_sample = format.bits_allocated / 8u;
  const size_t samples = format.samples_per_pixel;
  const uint32_t segments = ReadLe32(frame, 0);
  if (bytes_per_sample == 0 || segments != samples * bytes_per_sample || segments > 15) {
    return Fail(ErrorCode::kCorruptPixelData,
                fmt::format("RLE header has {} segments, {} expected", segments, samples * bytes_per_sample));
  }
  const size_t pixels = size_t{format.rows} * format.cols;
  std::vector<uint8_t> plane(pixels);
  std::vector<uint8_t> out(pixels * samples * bytes_per_sample);
  for (uint32_t s = 0; s < segments; ++s) {
    const uint32_t start = ReadLe32(frame, 4 + 4 * s);
    const uint32_t end = s + 1 < segments ? ReadLe32(frame, 4 + 4 * (s + 1)) : static_cast<uint32_t>(frame.size());
    if (start < 64 || start > end || end > frame.size()) {
      return Fail(ErrorCode::kCorruptPixelData, fmt::format("RLE segment {} offsets out of range", s + 1));
    }
    if (auto ok = UnpackSegment(frame.subspan(start, end - start), plane); !ok) return Fail(ok.error());
    // Segments go sample by sample, most significant byte first (PS3.5 G.2).
    const size_t sample = s / bytes_per_sample;
    const size_t byte_in_sample = bytes_per_sample - 1 - s % bytes_per_sample;
    const size_t stride = samples * bytes_per_sample;
    uint8_t* dst = out.data() + sample * bytes_per_sample + byte_in_sample;
    for (size_t i = 0; i < pixels; ++i) dst[i * stride] = plane[i];
  }
  return out;
}

}  // namespace eden::dicom
