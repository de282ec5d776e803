#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "imaging/types.h"

namespace eden::dicom {

/// Decodes one RLE Lossless frame (PS3.5 Annex G) into interleaved little-endian samples of
/// `format` (planar false). Every segment offset and run is bounds-checked: hostile input gives
/// kCorruptPixelData, never a read or write outside the buffers. (DCMTK 3.6.7's RLE decoder
/// crashes on some malformed segments, found by our fuzzer.)
/// @par Thread-safety Pure function.
Result<std::vector<uint8_t>> DecodeRleFrame(std::span<const uint8_t> frame, const imaging::PixelFormat& format);

}  // namespace eden::dicom
