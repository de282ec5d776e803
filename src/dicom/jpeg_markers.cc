#include "dicom/jpeg_markers.h"

#include <fmt/format.h>

namespace eden::dicom {

namespace {

/// Follows the marker walk of DCMTK 3.6.7's DJCodecDecoder::scanJpegDataForBitDepth over
/// `data` and says whether it would reach a TEM marker (0xFF01), where that loop does not
/// advance and spins forever. The walk starts at offset 0, skips every segment by its length
/// (SOS included), steps over fill bytes, RSTn, SOI, EOI and reserved markers, and stops at a
/// SOF or at anything else.
bool DcmtkScanWouldSpin(std::span<const uint8_t> data) {
  size_t offset = 0;
  while (offset + 4 < data.size()) {
    if (data[offset] != 0xFF) return false;  // DCMTK: invalid marker, stops.
    const uint8_t m = data[offset + 1];
    if (m == 0x01) return true;                                                       // TEM: DCMTK does not advance.
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return false;  // SOF: done.
    if (m == 0xC4 || m == 0xCC || (m >= 0xDA && m <= 0xDF) || (m >= 0xE0 && m <= 0xFE)) {
      offset += ((size_t{data[offset + 2]} << 8) | data[offset + 3]) + 2;
    } else if (m == 0xFF) {
      offset += 1;
    } else if ((m >= 0xD0 && m <= 0xD9) || (m > 0x02 && m <= 0xBF)) {
      offset += 2;
    } else {
      return false;  // DCMTK: invalid marker, stops.
    }
  }
  return false;
}

}  // namespace

Status CheckJpegMarkers(std::span<const uint8_t> data) {
  if (DcmtkScanWouldSpin(data)) {
    return Fail(ErrorCode::kCorruptPixelData, "JPEG stream with a TEM marker in its header walk");
  }
  if (data.size() < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    return Fail(ErrorCode::kCorruptPixelData, "JPEG fragment does not start with SOI");
  }
  size_t offset = 2;
  while (offset + 4 <= data.size()) {
    if (data[offset] != 0xFF) {
      return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG marker expected at byte {}", offset));
    }
    const uint8_t marker = data[offset + 1];
    if (marker == 0xFF) {  // Fill byte.
      ++offset;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // TEM, RSTn, SOI: no length.
      offset += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0x00) {
      return Fail(ErrorCode::kCorruptPixelData, "JPEG header ends before its frame header");
    }
    const bool is_sof = (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) ||
                        marker == 0xF7;  // SOF55 (JPEG-LS).
    if (is_sof || marker == 0xDA) return {};
    const size_t length = (size_t{data[offset + 2]} << 8) | data[offset + 3];
    if (length < 2) return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG marker segment of length {}", length));
    offset += 2 + length;
  }
  return {};  // The header continues past this fragment; the codec reports what it finds.
}

}  // namespace eden::dicom
