#pragma once

#include <cstdint>
#include <span>

#include "core/bytes.h"
#include "core/result.h"
#include "imaging/types.h"

namespace eden::dicom {

struct Jpeg2000Frame {
  Bytes bytes;                  ///< Every sample written by the decoder: not zero-filled first.
  imaging::PixelFormat format;  ///< Precision and signedness as the codestream says.
};

/// Decodes one JPEG 2000 codestream (raw J2K or JP2) with OpenJPEG. The codestream's size and
/// component count must match `expected` (the DICOM attributes); its precision wins over Bits
/// Stored, and the samples are signed if either the codestream or Pixel Representation says so
/// (real files get one or the other wrong; PS3.5 8.2.4 says they must agree).
/// Output cells are `expected.bits_allocated` wide, components interleaved.
/// @par Thread-safety Safe to call concurrently.
/// `min_longest_side` > 0: decode only the resolution levels needed, the smallest reduction
/// (a factor of 2 a level, as many levels as the codestream has) whose longer side is still at
/// least that; the frame's format then has the reduced rows and columns.
Result<Jpeg2000Frame> DecodeJpeg2000(std::span<const uint8_t> codestream, const imaging::PixelFormat& expected,
                                     uint64_t max_bytes, uint32_t min_longest_side = 0);

}  // namespace eden::dicom
