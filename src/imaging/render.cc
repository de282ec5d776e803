#include "imaging/render.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "imaging/window.h"

namespace eden::imaging {
namespace {

inline uint8_t ToByte(double y) {
  if (!(y > 0.0)) return 0;  // Also catches NaN.
  if (y >= 255.0) return 255;
  return static_cast<uint8_t>(y + 0.5);
}

/// Reads raw sample `i` (little endian) of a frame as an unsigned cell.
inline uint32_t ReadCell(const uint8_t* p, size_t i, unsigned bytes_per_sample) {
  switch (bytes_per_sample) {
    case 1:
      return p[i];
    case 2: {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      return v;
    }
    default: {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
  }
}

/// Extracts a stored value from a cell: bits [high_bit - bits_stored + 1, high_bit], sign
/// extended when the pixel representation is signed.
struct StoredDecoder {
  unsigned shift;
  uint64_t mask;
  unsigned bits;
  bool is_signed;

  explicit StoredDecoder(const PixelFormat& f)
      : shift(static_cast<unsigned>(f.high_bit + 1 - f.bits_stored)),
        mask((uint64_t{1} << f.bits_stored) - 1),
        bits(f.bits_stored),
        is_signed(f.is_signed) {}

  uint32_t Index(uint32_t cell) const { return static_cast<uint32_t>((cell >> shift) & mask); }
  int64_t Value(uint32_t index) const {
    if (is_signed && (index >> (bits - 1)) & 1u) return int64_t{index} - (int64_t{1} << bits);
    return index;
  }
};

Status ValidateFormat(const FrameView& frame, Photometric photometric) {
  const PixelFormat& f = frame.format;
  if (f.rows == 0 || f.cols == 0) return Fail(ErrorCode::kMalformed, "image has zero rows or columns");
  if (f.bits_allocated != 8 && f.bits_allocated != 16 && f.bits_allocated != 32) {
    return Fail(ErrorCode::kUnsupported, fmt::format("bits allocated {} not supported", f.bits_allocated));
  }
  if (f.bits_stored == 0 || f.bits_stored > f.bits_allocated || f.high_bit >= f.bits_allocated ||
      f.high_bit + 1 < f.bits_stored) {
    return Fail(ErrorCode::kMalformed,
                fmt::format("inconsistent pixel layout: bits allocated {}, stored {}, high bit {}", f.bits_allocated,
                            f.bits_stored, f.high_bit));
  }
  const size_t need = ExpectedFrameBytes(f, photometric);
  if (frame.bytes.size() < need) {
    return Fail(ErrorCode::kTruncated, fmt::format("frame has {} bytes, needs {}", frame.bytes.size(), need));
  }
  return {};
}

// ---- Greyscale -----------------------------------------------------------------------------

class GreyPipeline {
 public:
  explicit GreyPipeline(const DisplayAttributes& attrs) : attrs_(attrs) {}

  double Modality(int64_t stored) const {
    if (attrs_.modality_lut) return attrs_.modality_lut->At(static_cast<double>(stored));
    return static_cast<double>(stored) * attrs_.rescale_slope + attrs_.rescale_intercept;
  }

  bool IsPadding(int64_t stored) const {
    if (!attrs_.padding_value) return false;
    const int64_t pv = *attrs_.padding_value;
    if (!attrs_.padding_range_limit) return stored == pv;
    const int64_t lim = *attrs_.padding_range_limit;
    return stored >= std::min(pv, lim) && stored <= std::max(pv, lim);
  }

 private:
  const DisplayAttributes& attrs_;
};

/// The VOI stage, once chosen: either a window or a LUT (scaled to 0..255).
struct Voi {
  std::optional<Window> window;
  const Lut* lut = nullptr;

  double Apply(double x) const {
    if (lut) return lut->At(x) * 255.0 / lut->MaxValue();
    return ApplyWindow(*window, x);
  }

  /// The output byte for modality value `x`: a flat (zero-width) auto window maps everything to
  /// black; MONOCHROME1 is inverted last.
  uint8_t Byte(double x, bool invert) const {
    double y = (window && window->width <= 0) ? 0.0 : Apply(x);
    if (invert) y = 255.0 - y;
    return ToByte(y);
  }
};

/// Completes the VOI stage of a file without one: the min-max window when `lo..hi` is a real
/// range from the frame, else the full range `full_lo..full_hi` of possible values.
void SetAutoWindow(double lo, double hi, bool auto_window, double full_lo, double full_hi, Voi& voi, RenderInfo& info) {
  const bool use_frame = auto_window && lo <= hi;
  info.source = use_frame ? VoiSource::kMinMax : VoiSource::kFullRange;
  voi.window = use_frame ? MinMaxWindow(lo, hi) : MinMaxWindow(full_lo, full_hi);
  info.window = voi.window;
}

Result<Voi> ChooseFileOrUserVoi(const DisplayAttributes& attrs, const RenderOptions& options, RenderInfo& info,
                                bool* need_auto) {
  *need_auto = false;
  if (options.window) {
    if (!IsUsableWindow(*options.window)) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("window width {} is not usable", options.window->width));
    }
    info.source = VoiSource::kUserWindow;
    info.window = options.window;
    return Voi{options.window, nullptr};
  }
  std::vector<Window> usable;
  for (const Window& w : attrs.windows) {
    if (IsUsableWindow(w)) usable.push_back(w);
  }
  std::vector<const Lut*> luts;
  for (const Lut& l : attrs.voi_luts) {
    if (!l.data.empty()) luts.push_back(&l);
  }
  const size_t total = usable.size() + luts.size();
  if (total > 0) {
    if (options.voi_index >= total) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("VOI index {} out of range: the file has {} window(s) and {} VOI LUT(s)",
                              options.voi_index, usable.size(), luts.size()));
    }
    info.voi_index = options.voi_index;
    if (options.voi_index < usable.size()) {
      info.source = VoiSource::kFileWindow;
      info.window = usable[options.voi_index];
      return Voi{usable[options.voi_index], nullptr};
    }
    info.source = VoiSource::kFileVoiLut;
    info.voi_index = options.voi_index - usable.size();
    return Voi{std::nullopt, luts[info.voi_index]};
  }
  *need_auto = true;
  return Voi{};
}

/// RenderMode::kMimic (MIMIC-CXR-JPG): stored values -> min-max to 0..255 -> MONOCHROME1
/// inverted -> global histogram equalisation (the cumulative histogram, its first non-empty bin
/// mapped to 0, as OpenCV's equalizeHist does). `info.window` is the stored values' range.
Image8 RenderMimic(const FrameView& frame, const DisplayAttributes& attrs, RenderInfo& info) {
  const PixelFormat& f = frame.format;
  const StoredDecoder dec(f);
  const size_t n = size_t{f.rows} * f.cols;
  const unsigned bps = f.bits_allocated / 8u;
  const uint8_t* src = frame.bytes.data();
  std::vector<int64_t> values(n);
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < n; ++i) {
    values[i] = dec.Value(dec.Index(ReadCell(src, i, bps)));
    lo = std::min(lo, values[i]);
    hi = std::max(hi, values[i]);
  }
  Image8 out{f.cols, f.rows, 1, Bytes(n)};
  const bool invert = attrs.photometric == Photometric::kMonochrome1;
  const double scale = hi > lo ? 255.0 / static_cast<double>(hi - lo) : 0.0;
  std::array<size_t, 256> histogram{};
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = ToByte(static_cast<double>(values[i] - lo) * scale);
    if (invert) b = static_cast<uint8_t>(255 - b);
    out.pixels[i] = b;
    ++histogram[b];
  }
  size_t first = 0;  // Pixels in the first non-empty bin.
  for (size_t count : histogram) {
    if (count) {
      first = count;
      break;
    }
  }
  std::array<uint8_t, 256> table{};
  if (n > first) {
    size_t cumulative = 0;
    for (size_t v = 0; v < 256; ++v) {
      cumulative += histogram[v];
      const double y =
          static_cast<double>(cumulative > first ? cumulative - first : 0) * 255.0 / static_cast<double>(n - first);
      table[v] = ToByte(y);
    }
  } else {
    for (size_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);  // One grey level: as it is.
  }
  for (uint8_t& p : out.pixels) p = table[p];
  info.source = VoiSource::kMimic;
  info.window = Window{(static_cast<double>(lo) + static_cast<double>(hi)) / 2.0, static_cast<double>(hi - lo) + 1.0,
                       VoiFunction::kLinear};
  return out;
}

Result<Image8> RenderGrey(const FrameView& frame, const DisplayAttributes& attrs, const RenderOptions& options,
                          RenderInfo& info) {
  if (options.mode == RenderMode::kMimic) return RenderMimic(frame, attrs, info);
  const PixelFormat& f = frame.format;
  const StoredDecoder dec(f);
  const GreyPipeline pipe(attrs);
  const size_t n = size_t{f.rows} * f.cols;
  const unsigned bps = f.bits_allocated / 8u;
  const uint8_t* src = frame.bytes.data();
  const bool invert = attrs.photometric == Photometric::kMonochrome1;

  bool need_auto = false;
  auto chosen = ChooseFileOrUserVoi(attrs, options, info, &need_auto);
  if (!chosen) return Fail(chosen.error());
  Voi voi = *chosen;

  Image8 out{f.cols, f.rows, 1, Bytes(n)};
  const bool use_table = f.bits_stored <= 16;

  if (use_table) {
    // Every stored value maps to one output byte: build the table once, then one lookup a
    // pixel. 2^16 entries at most.
    const size_t size = size_t{1} << f.bits_stored;
    if (need_auto) {
      double lo = std::numeric_limits<double>::infinity();
      double hi = -lo;
      if (options.auto_window) {
        std::vector<uint8_t> seen(size, 0);
        for (size_t i = 0; i < n; ++i) seen[dec.Index(ReadCell(src, i, bps))] = 1;
        for (size_t idx = 0; idx < size; ++idx) {
          if (!seen[idx]) continue;
          const int64_t v = dec.Value(static_cast<uint32_t>(idx));
          if (pipe.IsPadding(v)) continue;
          const double m = pipe.Modality(v);
          lo = std::min(lo, m);
          hi = std::max(hi, m);
        }
      }
      double full_lo = std::numeric_limits<double>::infinity();
      double full_hi = -full_lo;
      for (size_t idx = 0; !(options.auto_window && lo <= hi) && idx < size; ++idx) {  // Only if needed.
        const double m = pipe.Modality(dec.Value(static_cast<uint32_t>(idx)));
        full_lo = std::min(full_lo, m);
        full_hi = std::max(full_hi, m);
      }
      SetAutoWindow(lo, hi, options.auto_window, full_lo, full_hi, voi, info);
    }
    std::vector<uint8_t> table(size);
    for (size_t idx = 0; idx < size; ++idx) {
      table[idx] = voi.Byte(pipe.Modality(dec.Value(static_cast<uint32_t>(idx))), invert);
    }
    uint8_t* dst = out.pixels.data();
    if (bps == 2) {
      for (size_t i = 0; i < n; ++i) dst[i] = table[dec.Index(ReadCell(src, i, 2))];
    } else if (bps == 1) {
      for (size_t i = 0; i < n; ++i) dst[i] = table[dec.Index(src[i])];
    } else {
      for (size_t i = 0; i < n; ++i) dst[i] = table[dec.Index(ReadCell(src, i, 4))];
    }
    return out;
  }

  // General path (bits stored > 16): compute per pixel.
  std::vector<double> values(n);
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = dec.Value(dec.Index(ReadCell(src, i, bps)));
    values[i] = pipe.Modality(v);
    if (need_auto && options.auto_window && !pipe.IsPadding(v)) {
      lo = std::min(lo, values[i]);
      hi = std::max(hi, values[i]);
    }
  }
  if (need_auto) {
    const double a = pipe.Modality(f.is_signed ? -(int64_t{1} << (f.bits_stored - 1)) : 0);
    const double b =
        pipe.Modality(f.is_signed ? (int64_t{1} << (f.bits_stored - 1)) - 1 : (int64_t{1} << f.bits_stored) - 1);
    SetAutoWindow(lo, hi, options.auto_window, std::min(a, b), std::max(a, b), voi, info);
  }
  for (size_t i = 0; i < n; ++i) out.pixels[i] = voi.Byte(values[i], invert);
  return out;
}

// ---- Colour --------------------------------------------------------------------------------

inline void YbrToRgb(double y, double cb, double cr, uint8_t* rgb) {
  // PS3.3 C.7.6.3.1.2 (YBR_FULL, ITU-R BT.601 full range).
  rgb[0] = ToByte(y + 1.402 * (cr - 128.0));
  rgb[1] = ToByte(y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0));
  rgb[2] = ToByte(y + 1.772 * (cb - 128.0));
}

Result<Image8> RenderColour(const FrameView& frame, const DisplayAttributes& attrs) {
  const PixelFormat& f = frame.format;
  const size_t n = size_t{f.rows} * f.cols;
  const unsigned bps = f.bits_allocated / 8u;
  const uint8_t* src = frame.bytes.data();
  const StoredDecoder dec(f);
  const double scale = 255.0 / static_cast<double>(dec.mask);
  auto sample8 = [&](size_t i) -> double {
    const uint32_t idx = dec.Index(ReadCell(src, i, bps));
    return f.bits_stored == 8 ? static_cast<double>(idx) : idx * scale;
  };
  Image8 out{f.cols, f.rows, 3, Bytes(n * 3)};
  uint8_t* dst = out.pixels.data();

  if (attrs.photometric == Photometric::kPaletteColor) {
    if (f.samples_per_pixel != 1 || !attrs.palette_red || !attrs.palette_green || !attrs.palette_blue) {
      return Fail(ErrorCode::kMalformed, "PALETTE COLOR image without its three palette tables");
    }
    const Lut* tables[3] = {&*attrs.palette_red, &*attrs.palette_green, &*attrs.palette_blue};
    for (size_t i = 0; i < n; ++i) {
      const double index = static_cast<double>(dec.Value(dec.Index(ReadCell(src, i, bps))));
      for (int c = 0; c < 3; ++c) {
        dst[3 * i + c] = ToByte(tables[c]->At(index) * 255.0 / tables[c]->MaxValue());
      }
    }
    return out;
  }
  if (f.samples_per_pixel != 3) {
    return Fail(ErrorCode::kMalformed, fmt::format("{} image with {} samples per pixel",
                                                   PhotometricName(attrs.photometric), f.samples_per_pixel));
  }
  if (attrs.photometric == Photometric::kYbrFull422 && frame.bytes.size() < size_t{f.rows} * f.cols * 3 * bps) {
    // Uncompressed 4:2:2: each pair of pixels is stored as Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
    if (f.cols % 2 != 0) return Fail(ErrorCode::kMalformed, "YBR_FULL_422 with an odd number of columns");
    for (size_t i = 0; i < n; i += 2) {
      const size_t base = i * 2;
      const double y1 = sample8(base), y2 = sample8(base + 1);
      const double cb = sample8(base + 2), cr = sample8(base + 3);
      YbrToRgb(y1, cb, cr, dst + 3 * i);
      YbrToRgb(y2, cb, cr, dst + 3 * (i + 1));
    }
    return out;
  }
  const bool ybr = attrs.photometric == Photometric::kYbrFull || attrs.photometric == Photometric::kYbrFull422;
  for (size_t i = 0; i < n; ++i) {
    double s[3];
    for (size_t c = 0; c < 3; ++c) s[c] = sample8(f.planar ? c * n + i : 3 * i + c);
    if (ybr) {
      YbrToRgb(s[0], s[1], s[2], dst + 3 * i);
    } else {
      for (int c = 0; c < 3; ++c) dst[3 * i + c] = ToByte(s[c]);
    }
  }
  return out;
}

}  // namespace

std::string_view VoiSourceName(VoiSource s) {
  switch (s) {
    case VoiSource::kNone:
      return "none";
    case VoiSource::kUserWindow:
      return "user";
    case VoiSource::kFileWindow:
      return "file_window";
    case VoiSource::kFileVoiLut:
      return "file_voi_lut";
    case VoiSource::kMinMax:
      return "min_max";
    case VoiSource::kFullRange:
      return "full_range";
    case VoiSource::kMimic:
      return "mimic";
  }
  return "none";
}

size_t ExpectedFrameBytes(const PixelFormat& format, Photometric photometric) {
  const size_t cells = size_t{format.rows} * format.cols;
  if (photometric == Photometric::kYbrFull422 && format.samples_per_pixel == 3) {
    return cells * 2 * format.BytesPerSample();  // The smaller, uncompressed 4:2:2 layout.
  }
  return format.FrameBytes();
}

Result<Image8> RenderFrame(const FrameView& frame, const DisplayAttributes& attrs, const RenderOptions& options,
                           RenderInfo* info) {
  RenderInfo local;
  RenderInfo& out_info = info ? *info : local;
  out_info = RenderInfo{};
  if (attrs.photometric == Photometric::kOther) {
    return Fail(ErrorCode::kUnsupported, "photometric interpretation not supported");
  }
  if (auto ok = ValidateFormat(frame, attrs.photometric); !ok) return Fail(ok.error());
  if (IsMonochrome(attrs.photometric)) {
    if (frame.format.samples_per_pixel != 1) {
      return Fail(ErrorCode::kMalformed, "monochrome image with more than one sample per pixel");
    }
    return RenderGrey(frame, attrs, options, out_info);
  }
  return RenderColour(frame, attrs);
}

}  // namespace eden::imaging
