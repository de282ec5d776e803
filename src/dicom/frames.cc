#include "dicom/frames.h"

#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "imaging/render.h"

namespace eden::dicom {

EncapsulatedFrames SplitItems(std::span<const std::span<const uint8_t>> items) {
  EncapsulatedFrames out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == 0) {
      for (size_t k = 0; k + 4 <= items[0].size(); k += 4) {
        uint32_t off;
        std::memcpy(&off, items[0].data() + k, 4);
        out.offsets.push_back(off);
      }
    } else {
      out.fragments.push_back(items[i]);
    }
  }
  return out;
}

Result<std::span<const uint8_t>> LocateFrame(const EncapsulatedFrames& e, uint32_t index, uint32_t frames,
                                             std::vector<uint8_t>& scratch) {
  const auto& fragments = e.fragments;
  if (fragments.empty()) return Fail(ErrorCode::kCorruptPixelData, "no pixel data fragments");
  scratch.clear();
  auto append = [&scratch](std::span<const uint8_t> s) { scratch.insert(scratch.end(), s.begin(), s.end()); };
  if (frames == 1) {
    if (fragments.size() == 1) return fragments[0];
    for (const auto& f : fragments) append(f);
    return std::span<const uint8_t>(scratch);
  }
  if (fragments.size() == frames && index < frames) return fragments[index];
  if (e.offsets.size() == frames && index < frames) {
    uint64_t position = 0;
    const uint64_t begin = e.offsets[index];
    const uint64_t end = index + 1 < frames ? e.offsets[index + 1] : UINT64_MAX;
    std::span<const uint8_t> only;
    size_t pieces = 0;
    for (const auto& f : fragments) {
      if (position >= begin && position < end) {
        if (pieces++ == 0) only = f;
        append(f);
      }
      position += f.size() + 8;
    }
    if (pieces == 1 && !only.empty()) return only;
    if (pieces > 1 && !scratch.empty()) return std::span<const uint8_t>(scratch);
  }
  return Fail(ErrorCode::kCorruptPixelData,
              fmt::format("cannot locate frame {} among {} fragments", index + 1, fragments.size()));
}

Status CheckDecodedFrame(const DecodedFrame& frame, uint32_t index, bool encapsulated) {
  const imaging::PixelFormat& f = frame.format;
  const ErrorCode short_code = encapsulated ? ErrorCode::kCorruptPixelData : ErrorCode::kTruncated;
  if (f.rows == 0 || f.cols == 0 || (f.samples_per_pixel != 1 && f.samples_per_pixel != 3) ||
      (f.bits_allocated != 8 && f.bits_allocated != 16 && f.bits_allocated != 32) || f.bits_stored == 0 ||
      f.bits_stored > f.bits_allocated || f.high_bit >= f.bits_allocated || f.high_bit + 1 < f.bits_stored) {
    return Fail(
        ErrorCode::kCorruptPixelData,
        fmt::format("frame {} decoded to an impossible layout: {}x{}, {} samples, {} bits allocated, {} "
                    "stored, high bit {}",
                    index + 1, f.cols, f.rows, f.samples_per_pixel, f.bits_allocated, f.bits_stored, f.high_bit));
  }
  const size_t need = imaging::ExpectedFrameBytes(f, frame.photometric);
  if (frame.bytes.size() < need) {
    return Fail(short_code,
                fmt::format("frame {} has {} bytes, its {}x{} {} layout needs {}", index + 1, frame.bytes.size(),
                            f.cols, f.rows, imaging::PhotometricName(frame.photometric), need));
  }
  return {};
}

Result<DecodedFrame> NativeFrame(std::span<const uint8_t> data, const imaging::PixelFormat& f,
                                 imaging::Photometric photometric, bool big_endian_ow, uint32_t index) {
  if (f.bits_allocated == 1) return UnpackBitFrame(data, f, photometric, index);
  const size_t expected = imaging::ExpectedFrameBytes(f, photometric);
  const uint64_t begin = uint64_t{index} * expected;
  if (begin + expected > data.size()) {
    return Fail(ErrorCode::kTruncated,
                fmt::format("pixel data has {} bytes, frame {} needs {}", data.size(), index + 1, begin + expected));
  }
  DecodedFrame out;
  out.format = f;
  out.photometric = photometric;
  const auto slice = data.subspan(static_cast<size_t>(begin), expected);
  if (!big_endian_ow) {
    out.bytes = slice;
    return out;
  }
  std::vector<uint8_t> swapped(slice.begin(), slice.end());
  for (size_t i = 0; i + 1 < swapped.size(); i += 2) std::swap(swapped[i], swapped[i + 1]);
  if (f.bits_allocated == 32) {
    for (size_t i = 0; i + 4 <= swapped.size(); i += 4) {
      std::swap(swapped[i], swapped[i + 2]);
      std::swap(swapped[i + 1], swapped[i + 3]);
    }
  }
  out.Own(std::move(swapped));
  return out;
}

Result<DecodedFrame> UnpackBitFrame(std::span<const uint8_t> data, const imaging::PixelFormat& f,
                                    imaging::Photometric photometric, uint32_t index) {
  const size_t pixels = size_t{f.rows} * f.cols;
  const uint64_t first_bit = uint64_t{index} * pixels;
  if ((first_bit + pixels + 7) / 8 > data.size()) {
    return Fail(ErrorCode::kTruncated, "1-bit pixel data shorter than its frames");
  }
  DecodedFrame out;
  out.format = f;
  out.format.bits_allocated = 8;
  out.format.bits_stored = 1;
  out.format.high_bit = 0;
  out.format.is_signed = false;
  out.photometric = photometric;
  std::vector<uint8_t> samples(pixels);
  for (size_t i = 0; i < pixels; ++i) {
    const uint64_t bit = first_bit + i;
    samples[i] = (data[bit / 8] >> (bit % 8)) & 1u;
  }
  out.Own(std::move(samples));
  return out;
}

}  // namespace eden::dicom
