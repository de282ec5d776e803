#include "htj2k_helper/openjph_codec.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <openjph/ojph_arch.h>  // First: the other headers use its OJPH_EXPORT.
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

#include "dicom/jpeg_markers.h"
#include "imaging/resize.h"

namespace eden::htj2k {
namespace {

// OpenJPH's message classes have virtual calls and no virtual destructor; ours live for the
// whole process and are never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
/// OpenJPH reports through process-wide handlers: by default it prints and then throws
/// std::runtime_error. These print nothing; the error handler throws with the message so that
/// the decode below can say what OpenJPH refused.
class ThrowError final : public ojph::message_error {
 public:
  void operator()(int code, const char* /*file*/, int /*line*/, const char* format, ...) override {
    char text[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    throw std::runtime_error(fmt::format("{} (OpenJPH 0x{:08x})", text, code));
  }
};
class Silent final : public ojph::message_warning {
 public:
  void operator()(int, const char*, int, const char*, ...) override {}
};
class SilentInfo final : public ojph::message_info {
 public:
  void operator()(int, const char*, int, const char*, ...) override {}
};

#pragma GCC diagnostic pop

void ConfigureMessagesOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    static ThrowError error;
    static Silent warning;
    static SilentInfo info;
    ojph::configure_error(&error);
    ojph::configure_warning(&warning);
    ojph::configure_info(&info);
  });
}

/// What the headers say, read before any sample is decoded.
struct Header {
  uint32_t width = 0, height = 0, components = 0, precision = 0;
  bool is_signed = false;
  uint32_t levels = 0;  ///< Decomposition levels (COD).
};

Status CheckHeader(ojph::codestream& cs, const imaging::PixelFormat& expected, uint64_t max_bytes, Header& h) {
  ojph::param_siz siz = cs.access_siz();
  const ojph::point extent = siz.get_image_extent();
  const ojph::point offset = siz.get_image_offset();
  h.width = extent.x - offset.x;
  h.height = extent.y - offset.y;
  h.components = siz.get_num_components();
  if (h.width != expected.cols || h.height != expected.rows) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 image is {}x{}, the DICOM header says {}x{}",
                                                          h.width, h.height, expected.cols, expected.rows));
  }
  if (h.components != expected.samples_per_pixel) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 image has {} components, expected {}",
                                                          h.components, expected.samples_per_pixel));
  }
  if (uint64_t{h.width} * h.height * expected.samples_per_pixel * (expected.bits_allocated / 8) > max_bytes) {
    return Fail(ErrorCode::kTooLarge, "JPEG 2000 frame exceeds the decode limit");
  }
  h.precision = siz.get_bit_depth(0);
  h.is_signed = siz.is_signed(0);
  for (uint32_t c = 0; c < h.components; ++c) {
    const ojph::point d = siz.get_downsampling(c);
    if (d.x != 1 || d.y != 1) return Fail(ErrorCode::kUnsupported, "JPEG 2000 with subsampled components");
    if (siz.get_bit_depth(c) != h.precision || siz.is_signed(c) != h.is_signed) {
      return Fail(ErrorCode::kUnsupported, "JPEG 2000 components of different precision");
    }
  }
  if (h.precision == 0 || h.precision > expected.bits_allocated || h.precision > 16) {
    return Fail(ErrorCode::kCorruptPixelData,
                fmt::format("JPEG 2000 precision {} exceeds bits allocated {}", h.precision, expected.bits_allocated));
  }
  h.levels = cs.access_cod().get_num_decompositions();
  return {};
}

template <typename Cell>
void StoreLine(const ojph::si32* src, uint32_t width, uint32_t component, uint32_t components, Cell* row) {
  Cell* dst = row + component;
  for (uint32_t x = 0; x < width; ++x, dst += components) *dst = static_cast<Cell>(src[x]);
}

}  // namespace

Result<imaging::PixelFormat> DecodeHtj2k(std::span<const uint8_t> codestream, const imaging::PixelFormat& expected,
                                         uint64_t max_bytes, uint32_t min_longest_side, const Sink& sink) {
  if (codestream.size() < 4 || codestream[0] != 0xFF || codestream[1] != 0x4F || codestream[2] != 0xFF ||
      codestream[3] != 0x51) {
    return Fail(ErrorCode::kUnsupported, "not a raw JPEG 2000 codestream (OpenJPH reads J2C only)");
  }
  if (auto ok = dicom::CheckJpeg2000Siz(codestream, expected.rows, expected.cols); !ok) return Fail(ok.error());
  if (expected.bits_allocated != 8 && expected.bits_allocated != 16) {
    return Fail(ErrorCode::kUnsupported, fmt::format("HTJ2K into {}-bit cells", expected.bits_allocated));
  }
  ConfigureMessagesOnce();

  ojph::mem_infile file;
  file.open(codestream.data(), codestream.size());
  ojph::codestream cs;  // Frees what it holds when it goes, whatever happened.
  Header header;
  imaging::PixelFormat out = expected;
  bool decoding = false;  // Past the headers: a failure now is corrupt data, not a refusal.
  try {
    cs.read_headers(&file);
    if (auto ok = CheckHeader(cs, expected, max_bytes, header); !ok) return Fail(ok.error());
    // The same rule as every reduced decode: the most levels that keep the longer side >= the target.
    const uint32_t reduce = imaging::ReductionLevels(header.height, header.width, min_longest_side, header.levels);
    if (reduce > 0) cs.restrict_input_resolution(reduce, reduce);
    cs.set_planar(false);
    cs.create();
    decoding = true;

    ojph::param_siz siz = cs.access_siz();
    const uint32_t width = siz.get_recon_width(0);
    const uint32_t height = siz.get_recon_height(0);
    if (width == 0 || height == 0 || width > (header.width >> reduce) + 1 || height > (header.height >> reduce) + 1) {
      return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 reduced image has an impossible size");
    }
    out.bits_stored = static_cast<uint16_t>(header.precision);
    out.high_bit = static_cast<uint16_t>(header.precision - 1);
    out.is_signed = expected.is_signed || header.is_signed;  // As DecodeJpeg2000 (PS3.5 8.2.4).
    out.planar = false;
    out.cols = width;
    out.rows = height;
    const uint32_t spp = header.components;
    const size_t bytes_per_sample = expected.bits_allocated / 8u;
    const size_t row_bytes = size_t{width} * spp * bytes_per_sample;
    if (auto ok = sink.begin(out); !ok) return Fail(ok.error());
    // Rows are handed over ~256 KiB at a time from one buffer (at least one row).
    const size_t batch = std::max<size_t>(1, (size_t{256} << 10) / row_bytes);
    std::vector<uint8_t> buffer(batch * row_bytes);
    size_t filled = 0;
    // Interleaved order: every component of row 0, then of row 1, ... (set_planar(false)).
    for (uint32_t y = 0; y < height; ++y) {
      uint8_t* row = buffer.data() + filled * row_bytes;
      for (uint32_t c = 0; c < spp; ++c) {
        ojph::ui32 component = 0;
        const ojph::line_buf* line = cs.pull(component);
        if (line == nullptr || component >= spp || line->size < width) {
          return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 decoder returned a short line");
        }
        if (bytes_per_sample == 1) {
          StoreLine(line->i32, width, component, spp, row);
        } else {
          StoreLine(line->i32, width, component, spp, reinterpret_cast<uint16_t*>(row));
        }
      }
      if (++filled == batch || y + 1 == height) {
        if (auto ok = sink.rows({buffer.data(), filled * row_bytes}); !ok) return Fail(ok.error());
        filled = 0;
      }
    }
  } catch (const std::exception& e) {
    return Fail(decoding ? ErrorCode::kCorruptPixelData : ErrorCode::kUnsupported,
                fmt::format("HTJ2K {}: {}", decoding ? "decoding failed" : "header refused", e.what()));
  }
  return out;
}

}  // namespace eden::htj2k
