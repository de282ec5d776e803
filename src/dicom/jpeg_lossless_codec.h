#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "imaging/types.h"

namespace eden::dicom {

/// Decodes one JPEG lossless frame (ITU T.81 process 14, Huffman, any predictor 1-7, point
/// transform, restart intervals; interleaved components without subsampling) into interleaved
/// little-endian samples of `format`. Table-driven Huffman decoding makes it ~2-3x faster than
/// the IJG lossless decoder DCMTK uses, which matters because radiographs are decode-bound.
/// kUnsupported for valid JPEG it does not handle (then the caller falls back to DCMTK);
/// kCorruptPixelData for broken data. Bounds-checked throughout.
/// @par Thread-safety Pure function.
Result<Bytes> DecodeJpegLosslessFrame(std::span<const uint8_t> data, const imaging::PixelFormat& format);

}  // namespace eden::dicom
