#pragma once

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
  DecodeLimits limits_;
};

}  // namespace eden::dicom
