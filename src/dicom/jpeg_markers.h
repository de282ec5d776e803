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

/// Checks a JPEG 2000 codestream's SIZ marker before a codec sees it: the image size the DICOM
/// header declares (`rows` x `cols`), and a tile grid ISO/IEC 15444-1 A.5.1 allows (its origin
/// at or before the image's, the first tile reaching into the image, at most 65,535 tiles: a tile
/// index is 16 bits). OpenJPEG allocates a structure per tile while it reads the header: a
/// 251-byte codestream declaring a 4,194,404 x 100 image in 100 x 100 tiles made it allocate
/// ~600 MB and spin for 5 s before the size check after the header could refuse it (found by
/// the jpeg2000 fuzz target). No SIZ marker: passes (the codec says what is wrong).
/// @par Thread-safety Pure function.
Status CheckJpeg2000Siz(std::span<const uint8_t> codestream, uint32_t rows, uint32_t cols);

}  // namespace eden::dicom
