#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/result.h"
#include "imaging/types.h"

namespace eden::imaging {

/// Where the VOI transform applied to a greyscale frame came from.
enum class VoiSource {
  kNone,        ///< Colour image: no VOI stage.
  kUserWindow,  ///< --window C/W.
  kFileWindow,  ///< Window Center/Width in the file (index in RenderInfo::voi_index).
  kFileVoiLut,  ///< VOI LUT Sequence item in the file.
  kMinMax,      ///< Auto window over the frame's modality values, padding excluded.
  kFullRange,   ///< No VOI in the file and auto window off: the full range of stored values.
  kMimic,       ///< RenderMode::kMimic: min-max of the stored values, then histogram equalisation.
};
std::string_view VoiSourceName(VoiSource s);

/// How greyscale pixels become 8 bits.
enum class RenderMode {
  kDisplay,  ///< The DICOM display pipeline (what a radiologist's viewer shows).
  /// The MIMIC-CXR-JPG recipe: stored values (masked to Bits Stored, no Modality LUT), min-max to
  /// 8 bits with no window or VOI LUT, MONOCHROME1 inverted, global histogram equalisation.
  kMimic,
};

/// How to choose the VOI stage. Defaults follow dcm4che's dcm2jpg: the first window or VOI LUT
/// in the file, else a min-max window over the frame.
struct RenderOptions {
  std::optional<Window> window;            ///< Overrides everything in the file.
  size_t voi_index = 0;                    ///< Index into the file's usable windows, then its VOI LUTs.
  bool auto_window = true;                 ///< Min-max window when the file has no usable VOI.
  RenderMode mode = RenderMode::kDisplay;  ///< kMimic ignores the three above.
};

/// What RenderFrame did, for reports (`eden convert --json`, the dataset CSV).
struct RenderInfo {
  VoiSource source = VoiSource::kNone;
  std::optional<Window> window;  ///< The window applied, if the VOI stage was a window.
  size_t voi_index = 0;          ///< For kFileWindow / kFileVoiLut.
};

/// Runs the DICOM display pipeline on one frame (PS3.3 C.11.2; PS3.4 N.2.1):
/// stored values -> Modality LUT (rescale or LUT) -> VOI (window or VOI LUT) -> MONOCHROME1
/// inversion -> 8 bits; or, for colour, YBR/palette -> RGB at 8 bits per channel.
/// Fails (kInvalidArgument / kUnsupported / kCorruptPixelData) on a layout it cannot trust;
/// never reads outside `frame.bytes`.
/// @par Thread-safety Pure function; safe to call concurrently.
Result<Image8> RenderFrame(const FrameView& frame, const DisplayAttributes& attrs, const RenderOptions& options,
                           RenderInfo* info = nullptr);

/// Number of bytes one frame occupies for this format and photometric, accounting for
/// YBR_FULL_422's 2-samples-per-pixel uncompressed layout.
size_t ExpectedFrameBytes(const PixelFormat& format, Photometric photometric);

}  // namespace eden::imaging
