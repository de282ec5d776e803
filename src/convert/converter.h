#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "dicom/decoder.h"
#include "imaging/render.h"
#include "jpeg/encoder.h"

namespace eden::convert {

/// What `eden convert` and the pipeline ask for. Defaults follow dcm4che's dcm2jpg.
struct ConvertOptions {
  imaging::RenderOptions render;
  uint32_t frame = 0;       ///< 0-based frame to convert when !all_frames.
  bool all_frames = false;  ///< Convert every frame.
  int quality = 100;        ///< JPEG quality 1..100.
  uint32_t max_size = 0;    ///< Longest output side in pixels; 0 keeps the original size.
  /// With max_size: decode every stored pixel even when the codec could decode fewer (JPEG
  /// 2000's resolution levels). For comparisons and benchmarks.
  bool full_decode = false;
};

/// One JPEG produced from one frame.
struct ConvertedFrame {
  uint32_t frame = 0;  ///< 0-based.
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t channels = 1;
  imaging::RenderInfo render;
  std::vector<uint8_t> jpeg;
};

/// Wall time spent in each stage, for benchmarks.
struct StageTimes {
  double decode_ms = 0;  ///< Parse + decompress.
  double render_ms = 0;  ///< Display pipeline + resize.
  double encode_ms = 0;  ///< JPEG encoding.
};

/// The outcome of converting one DICOM object.
struct Conversion {
  dicom::DicomInfo info;
  std::vector<ConvertedFrame> frames;
  StageTimes times;
};

/// Converts DICOM bytes held in memory to JPEG bytes (no temporary files): the engine behind
/// `eden convert` and the pipeline's per-instance task.
/// @par Thread-safety Not thread-safe (it owns a JPEG encoder); use one Converter per thread.
/// The decoder may be shared.
class Converter {
 public:
  Converter(const dicom::DicomDecoder& decoder, std::unique_ptr<jpeg::JpegEncoder> encoder);

  Result<Conversion> Convert(std::span<const uint8_t> dicom_bytes, const ConvertOptions& options);

 private:
  const dicom::DicomDecoder& decoder_;
  std::unique_ptr<jpeg::JpegEncoder> encoder_;
};

/// Parses "C/W" (e.g. "40/400") into a LINEAR window.
Result<imaging::Window> ParseWindow(const std::string& text);

}  // namespace eden::convert
