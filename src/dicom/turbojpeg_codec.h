#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"

namespace eden::dicom {

/// An 8-bit greyscale frame decoded at a reduced size.
struct ScaledJpegFrame {
  std::vector<uint8_t> bytes;
  uint32_t rows = 0, cols = 0;
};

/// Decodes an 8-bit single-component JPEG (DICOM JPEG baseline, process 1) with libjpeg-turbo,
/// scaling in the inverse DCT: the smallest of 4/8 ... 8/8 that divides both sides exactly and
/// leaves the longer side at least `min_longest_side` (an 8x8 block becomes 4x4 to 8x8 samples;
/// smaller scales lose too much detail for the 38 dB bar). The header must say `rows` x `cols`. kUnsupported for colour
/// or another precision (the caller decodes those whole); kCorruptPixelData for a stream libjpeg-turbo refuses. @par
/// Thread-safety Safe to call concurrently.
Result<ScaledJpegFrame> DecodeJpegScaled(std::span<const uint8_t> codestream, uint32_t rows, uint32_t cols,
                                         uint32_t min_longest_side);

}  // namespace eden::dicom
