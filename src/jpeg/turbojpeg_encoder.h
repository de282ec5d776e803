#pragma once

#include <memory>

#include "jpeg/encoder.h"

namespace eden::jpeg {

/// The libjpeg-turbo (TurboJPEG API) encoder.
std::unique_ptr<JpegEncoder> MakeTurboJpegEncoder();

}  // namespace eden::jpeg
