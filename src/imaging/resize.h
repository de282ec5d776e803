#pragma once

#include <cstdint>

#include "imaging/types.h"

namespace eden::imaging {

/// Scales `image` down so that its longer side is at most `max_side` pixels, keeping the
/// aspect ratio, with a separable Lanczos-3 filter widened by the scale factor (antialiased, as
/// Pillow's LANCZOS). Images already small enough are returned unchanged.
/// @par Thread-safety Pure function.
Image8 DownscaleToFit(const Image8& image, uint32_t max_side);

}  // namespace eden::imaging
