#include "dicom/jpeg_markers.h"

#include <algorithm>
#include <iterator>

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

namespace {

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

}  // namespace

Status CheckJpeg2000Siz(std::span<const uint8_t> codestream, uint32_t rows, uint32_t cols) {
  static constexpr uint8_t kSiz[] = {0xFF, 0x4F, 0xFF, 0x51};
  auto at = std::search(codestream.begin(), codestream.end(), std::begin(kSiz), std::end(kSiz));
  if (at == codestream.end()) return {};                                // OpenJPEG will say what is wrong.
  const size_t siz = static_cast<size_t>(at - codestream.begin()) + 4;  // Lsiz follows.
  if (codestream.size() < siz + 2 + 2 + 32) return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 SIZ marker cut short");
  const uint8_t* p = codestream.data() + siz + 4;  // Past Lsiz and Rsiz.
  const uint64_t xsiz = Be32(p), ysiz = Be32(p + 4), xosiz = Be32(p + 8), yosiz = Be32(p + 12);
  const uint64_t xtsiz = Be32(p + 16), ytsiz = Be32(p + 20), xtosiz = Be32(p + 24), ytosiz = Be32(p + 28);
  const bool valid = xtsiz > 0 && ytsiz > 0 && xosiz < xsiz && yosiz < ysiz && xtosiz <= xosiz && ytosiz <= yosiz &&
                     xtsiz + xtosiz > xosiz && ytsiz + ytosiz > yosiz;
  if (!valid) return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 SIZ marker with an impossible tile grid");
  if (xsiz - xosiz != cols || ysiz - yosiz != rows) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 image is {}x{}, the DICOM header says {}x{}",
                                                          xsiz - xosiz, ysiz - yosiz, cols, rows));
  }
  const uint64_t tiles = ((xsiz - xtosiz + xtsiz - 1) / xtsiz) * ((ysiz - ytosiz + ytsiz - 1) / ytsiz);
  if (tiles > 65535) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 codestream declares {} tiles", tiles));
  }
  return {};
}

}  // namespace eden::dicom
