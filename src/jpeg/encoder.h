#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "imaging/types.h"

namespace eden::jpeg {

struct EncodeOptions {
  int quality = 100;  ///< 1..100; 100 matches the seed's `dcm2jpg -q 1.0`.
};

/// Encodes 8-bit grey or RGB images as baseline JPEG (JFIF). Colour is encoded 4:4:4 at
/// quality >= 90 (no chroma blur where quality is asked for), 4:2:0 below.
/// @par Thread-safety One encoder per thread: each owns a libjpeg-turbo handle.
class JpegEncoder {
 public:
  virtual ~JpegEncoder() = default;
  virtual Result<std::vector<uint8_t>> Encode(const imaging::Image8& image, const EncodeOptions& options) = 0;
};

}  // namespace eden::jpeg
