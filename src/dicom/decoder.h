#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "imaging/types.h"

namespace eden::dicom {

/// What the data set says about itself and its pixels (no PHI: no names, ids or dates).
struct DicomInfo {
  std::string transfer_syntax_uid;
  std::string transfer_syntax_name;
  std::string sop_class_uid;
  std::string modality;
  std::string photometric;  ///< As written in the file.
  /// What a dataset describes an image by: View Position, Body Part Examined, Image Laterality
  /// (else Laterality), and the patient characteristics Sex and Age, which a file holds only when
  /// de-identification kept them (retain-patient-characteristics) or did not run.
  std::string view_position, body_part, laterality, sex, age;
  /// "<Issuer of Patient ID>|<Patient ID>" ("" without a Patient ID): only to group a patient's
  /// images (dataset splits, after hashing). Never printed, logged or written.
  std::string patient_group;
  uint32_t number_of_frames = 1;
  imaging::PixelFormat format;  ///< As written in the file.
  imaging::DisplayAttributes display;
  /// What the decoder read past that a strict reader would refuse (no PHI): shown by
  /// `eden convert --json`.
  std::vector<std::string> warnings;
};

/// One decoded frame. Its format and photometric may differ from the file's: a JPEG decoder
/// that converted YCbCr to RGB reports RGB, 1-bit data is unpacked to one byte per pixel.
/// `bytes` points either into `storage` or, for uncompressed little-endian data, straight into
/// the buffer given to DicomDecoder::Open (no copy): that buffer must outlive the frame.
/// Move-only, so `bytes` never points into another frame's storage.
struct DecodedFrame {
  /// Decoders that fill every sample hand over a `Bytes` (not zero-filled first: a 15 MB frame
  /// costs ~2 ms to zero); the others a vector.
  std::variant<std::vector<uint8_t>, Bytes> storage;
  std::span<const uint8_t> bytes;
  imaging::PixelFormat format;
  imaging::Photometric photometric = imaging::Photometric::kMonochrome2;

  DecodedFrame() = default;
  DecodedFrame(DecodedFrame&&) noexcept = default;
  DecodedFrame& operator=(DecodedFrame&&) noexcept = default;
  DecodedFrame(const DecodedFrame&) = delete;
  DecodedFrame& operator=(const DecodedFrame&) = delete;

  /// Takes ownership of decoded samples (a std::vector<uint8_t> or Bytes).
  template <class Buffer>
  void Own(Buffer samples) {
    bytes = storage.emplace<Buffer>(std::move(samples));
  }
  imaging::FrameView View() const { return {bytes, format}; }
};

/// A parsed DICOM object whose frames are decoded on demand, one at a time, so a 500-frame CT
/// never needs all its frames in memory.
/// @par Thread-safety One object per thread; distinct objects may be used concurrently.
class DicomObject {
 public:
  virtual ~DicomObject() = default;
  virtual const DicomInfo& info() const = 0;
  /// Decodes frame `index` (0-based).
  virtual Result<DecodedFrame> DecodeFrame(uint32_t index) = 0;
  /// The caller will downscale frames so that their longer side is at most `longest_side`
  /// (0: full size). A decoder that can decode at a reduced resolution cheaply (JPEG 2000's
  /// resolution levels) may then return a smaller frame, its format's rows and columns say so,
  /// whose longer side is still at least `longest_side`. The others ignore it.
  virtual void PreferReducedFrames(uint32_t longest_side) { (void)longest_side; }
};

/// Limits that keep hostile input from exhausting memory.
struct DecodeLimits {
  uint64_t max_frame_bytes = uint64_t{256} << 20;  ///< One decoded frame: 256 MiB (a 16-bit
                                                   ///< 8192x8192 RGB frame is 384 MiB).
  uint32_t max_dimension = 65535;                  ///< Rows and columns.
  /// PreferReducedFrames applies to frames of at least this many pixels: smaller ones decode
  /// fast whole, and on small detailed images the wavelet's low band differs from an
  /// antialiased resize by more than the 38 dB bar (25 dB from 64x64 to 32x32).
  uint64_t reduce_from_pixels = uint64_t{1} << 20;
};

/// Parses DICOM bytes held in memory (Part 10 with or without preamble, or a bare data set).
/// The returned object refers to `bytes`: keep them alive while using it and its frames.
/// Failures are typed: kNotDicom, kTruncated, kMalformed, kNoPixelData, kUnsupported,
/// kCorruptPixelData, kTooLarge.
/// @par Thread-safety Open may be called concurrently from many threads.
class DicomDecoder {
 public:
  virtual ~DicomDecoder() = default;
  virtual Result<std::unique_ptr<DicomObject>> Open(std::span<const uint8_t> bytes) const = 0;
};

/// True if `bytes` look like DICOM Part 10: a 128-byte preamble followed by "DICM".
bool LooksLikePart10(std::span<const uint8_t> bytes);

}  // namespace eden::dicom
