#include "dicom/jpeg_markers.h"

#include <fmt/format.h>

namespace eden::dicom {

Status CheckJpegMarkers(std::span<const uint8_t> data) {
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
