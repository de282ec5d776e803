#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace eden::imaging {

/// Photometric Interpretation (0028,0004) of the pixels handed to the renderer, i.e. after
/// decoding (a JPEG decoder that already converted YCbCr to RGB reports kRgb).
enum class Photometric { kMonochrome1, kMonochrome2, kRgb, kYbrFull, kYbrFull422, kPaletteColor, kOther };

Photometric ParsePhotometric(std::string_view text);
std::string_view PhotometricName(Photometric p);
inline bool IsMonochrome(Photometric p) { return p == Photometric::kMonochrome1 || p == Photometric::kMonochrome2; }

/// VOI LUT Function (0028,1056), PS3.3 C.11.2.1.2.
enum class VoiFunction { kLinear, kLinearExact, kSigmoid };

/// Parses "LINEAR", "LINEAR_EXACT", "SIGMOID" (case- and space-insensitive); nullopt otherwise.
std::optional<VoiFunction> ParseVoiFunction(std::string_view text);
std::string_view VoiFunctionName(VoiFunction f);

/// A window (Window Center / Window Width) and the function that applies it.
struct Window {
  double center = 0;
  double width = 0;
  VoiFunction function = VoiFunction::kLinear;
};

/// A DICOM lookup table (PS3.3 C.11.1.1): descriptor (entries, first mapped value, bits per
/// entry) and data. Used for the Modality LUT, the VOI LUT and the palette colour tables.
struct Lut {
  int32_t first_mapped = 0;
  uint16_t bits = 16;          ///< Bits per entry as the descriptor says (8 or 16 in practice).
  std::vector<uint16_t> data;  ///< One value per entry.

  /// Value for input `x`: inputs below the first mapped value take the first entry, above the
  /// last take the last (PS3.3 C.11.1.1.1).
  uint16_t At(double x) const;
  /// Largest value an entry can hold: 2^bits - 1, or the largest entry if the data overflows
  /// the descriptor (a frequent encoder bug).
  double MaxValue() const;
};

/// Layout of one decoded frame. Samples are little endian, `bits_stored` bits ending at
/// `high_bit` within each `bits_allocated` cell.
struct PixelFormat {
  uint32_t rows = 0;
  uint32_t cols = 0;
  uint16_t samples_per_pixel = 1;
  uint16_t bits_allocated = 16;
  uint16_t bits_stored = 16;
  uint16_t high_bit = 15;
  bool is_signed = false;
  bool planar = false;  ///< Planar Configuration 1: RRR..GGG..BBB.

  size_t BytesPerSample() const { return bits_allocated / 8u; }
  size_t FrameBytes() const { return size_t{rows} * cols * samples_per_pixel * BytesPerSample(); }
};

/// Everything the file says about how to display its pixels.
struct DisplayAttributes {
  Photometric photometric = Photometric::kMonochrome2;
  double rescale_slope = 1.0;
  double rescale_intercept = 0.0;
  std::optional<Lut> modality_lut;             ///< Modality LUT Sequence; wins over rescale.
  std::vector<Window> windows;                 ///< Window Center/Width pairs, in file order.
  std::vector<Lut> voi_luts;                   ///< VOI LUT Sequence items, in file order.
  std::optional<int32_t> padding_value;        ///< Pixel Padding Value (stored-value space).
  std::optional<int32_t> padding_range_limit;  ///< Pixel Padding Range Limit.
  std::optional<Lut> palette_red, palette_green, palette_blue;
};

/// A view of one frame's decoded samples.
struct FrameView {
  std::span<const uint8_t> bytes;
  PixelFormat format;
};

/// An 8-bit image ready for JPEG: 1 channel (grey) or 3 (RGB, interleaved). `pixels` is Bytes:
/// made without zero-filling (every producer writes every pixel), and a radiograph's ~7.5 MB
/// comes huge-page backed from the reused large blocks instead of ~1,800 fresh 4 KiB pages, each
/// a page fault (together 11% of a single-file HTJ2K conversion: bench/RESULTS.md).
struct Image8 {
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t channels = 1;
  Bytes pixels;
};

}  // namespace eden::imaging
