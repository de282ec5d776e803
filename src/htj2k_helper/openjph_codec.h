#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "core/result.h"
#include "imaging/types.h"

namespace eden::htj2k {

/// Where decoded samples go: `begin` once the output's format is known, then `rows` with
/// consecutive whole rows (components interleaved) until the frame is complete. Handing rows
/// over in slices keeps the decoder's output in a small buffer that stays in cache.
struct Sink {
  std::function<Status(const imaging::PixelFormat& format)> begin;
  std::function<Status(std::span<const uint8_t> rows)> rows;
};

/// Decodes one High-Throughput JPEG 2000 codestream (ISO/IEC 15444-15, raw J2C) with OpenJPH.
/// Runs only inside the `eden-htj2k` process (dicom/htj2k_protocol.h says why). Same contract as
/// dicom::DecodeJpeg2000: size and component count checked against `expected` (the DICOM
/// attributes), the codestream's precision wins, signed if either says so, cells
/// `expected.bits_allocated` wide, components interleaved; `min_longest_side` > 0 skips the
/// resolution levels not needed. The samples go to `sink`; returns the output's format.
Result<imaging::PixelFormat> DecodeHtj2k(std::span<const uint8_t> codestream, const imaging::PixelFormat& expected,
                                         uint64_t max_bytes, uint32_t min_longest_side, const Sink& sink);

}  // namespace eden::htj2k
