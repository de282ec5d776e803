#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dicom/decoder.h"

namespace eden::dicom {

/// DicomDecoder over DCMTK (parsing; JPEG 8/12/16-bit, JPEG-LS, RLE, deflate codecs) and
/// OpenJPEG (JPEG 2000). Why not GDCM: Debian's GDCM build aborts the process on an assertion
/// for some malformed files, and its bundled libjpeg writes to stderr; DCMTK reports every
/// parse failure as a condition we can type.
class DcmtkDecoder final : public DicomDecoder {
 public:
  explicit DcmtkDecoder(DecodeLimits limits = {});
  Result<std::unique_ptr<DicomObject>> Open(std::span<const uint8_t> bytes) const override;

 private:
  /// Open over `bytes`, which `owned` (if set) holds: a cleaned copy of the caller's input,
  /// with `warnings` saying what was cleaned.
  Result<std::unique_ptr<DicomObject>> OpenOwned(std::span<const uint8_t> bytes,
                                                 std::shared_ptr<const std::vector<uint8_t>> owned,
                                                 std::vector<std::string> warnings) const;
  DecodeLimits limits_;
};

}  // namespace eden::dicom
