#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"

namespace eden::dicom {

/// Walks a JPEG (ITU T.81) marker chain from SOI up to the first SOF or SOS: every marker must
/// be 0xFF-prefixed (fill bytes allowed) and every length >= 2. DCMTK 3.6.7's
/// DJCodecDecoder::scanJpegDataForBitDepth loops forever when its walk meets a TEM marker
/// (found by our fuzzer; its `case 0xff01` does not advance), so a frame is only handed to
/// DCMTK's JPEG codec after this check, which also replays DCMTK's walk, passes.
/// @par Thread-safety Pure function.
Status CheckJpegMarkers(std::span<const uint8_t> fragment);

}  // namespace eden::dicom
