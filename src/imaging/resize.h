#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "imaging/types.h"

namespace eden::imaging {

/// Scales `image` down so that its longer side is at most `max_side` pixels, keeping the
/// aspect ratio, with a separable Lanczos-3 filter widened by the scale factor (antialiased, as
/// Pillow's LANCZOS). Images already small enough are returned unchanged.
/// @par Thread-safety Pure function.
Image8 DownscaleToFit(const Image8& image, uint32_t max_side);

/// How many times a frame decoded whole may be halved before it is windowed, for a result whose
/// longer side is at least `min_longest_side` (as a JPEG 2000 reduced-resolution decode picks
/// its levels; each halving rounds up), at most `max_levels`.
/// @par Thread-safety Pure function.
uint32_t ReductionLevels(uint32_t rows, uint32_t cols, uint32_t min_longest_side, uint32_t max_levels = 5);

/// Whether BoxReduce applies: one sample (greyscale), 8- or 16-bit cells, values in the low bits
/// (high bit = bits stored - 1). Colour, palette indices and other layouts are left whole.
bool CanBoxReduce(const PixelFormat& format);

/// A greyscale frame's stored values averaged over 2^levels x 2^levels blocks (a block cut by the
/// right or bottom edge averages the samples it has; rounded to nearest), each value first taken
/// from its Bits Stored and sign-extended: what a reduced-resolution decode gives, for frames
/// decoded whole (uncompressed, RLE, JPEG lossless) asked for at a fraction of their size. The
/// window is then computed and applied on the averaged values, a quarter of them a level, and the
/// antialiased resize (DownscaleToFit) starts from a quarter of the pixels. Requires
/// CanBoxReduce(frame.format) and levels >= 1.
struct ReducedFrame {
  Bytes bytes;
  PixelFormat format;
};
ReducedFrame BoxReduce(const FrameView& frame, uint32_t levels);

}  // namespace eden::imaging
