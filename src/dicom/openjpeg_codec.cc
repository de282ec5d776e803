#include "dicom/openjpeg_codec.h"

#include "dicom/jpeg_markers.h"
#include "imaging/resize.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <openjpeg.h>

namespace eden::dicom {
namespace {

struct MemorySource {
  std::span<const uint8_t> data;
  size_t position = 0;
};

OPJ_SIZE_T Read(void* buffer, OPJ_SIZE_T count, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  const size_t left = src->data.size() - src->position;
  if (left == 0) return static_cast<OPJ_SIZE_T>(-1);
  const size_t n = std::min<size_t>(count, left);
  std::memcpy(buffer, src->data.data() + src->position, n);
  src->position += n;
  return n;
}

OPJ_OFF_T Skip(OPJ_OFF_T count, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  if (count < 0) return -1;
  const size_t n = std::min<size_t>(static_cast<size_t>(count), src->data.size() - src->position);
  src->position += n;
  return static_cast<OPJ_OFF_T>(n);
}

OPJ_BOOL Seek(OPJ_OFF_T offset, void* user) {
  auto* src = static_cast<MemorySource*>(user);
  if (offset < 0 || static_cast<size_t>(offset) > src->data.size()) return OPJ_FALSE;
  src->position = static_cast<size_t>(offset);
  return OPJ_TRUE;
}

void Quiet(const char*, void*) {}

struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace

Result<Jpeg2000Frame> DecodeJpeg2000(std::span<const uint8_t> codestream, const imaging::PixelFormat& expected,
                                     uint64_t max_bytes, uint32_t min_longest_side) {
  static constexpr uint8_t kJp2Signature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  OPJ_CODEC_FORMAT format;
  if (codestream.size() >= 4 && codestream[0] == 0xFF && codestream[1] == 0x4F && codestream[2] == 0xFF &&
      codestream[3] == 0x51) {
    format = OPJ_CODEC_J2K;
  } else if (codestream.size() >= 8 && std::memcmp(codestream.data(), kJp2Signature, 8) == 0) {
    format = OPJ_CODEC_JP2;
  } else {
    return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 fragment has neither a J2K nor a JP2 signature");
  }

  if (auto ok = CheckJpeg2000Siz(codestream, expected.rows, expected.cols); !ok) return Fail(ok.error());

  MemorySource source{codestream, 0};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_default_create(OPJ_TRUE));
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), codestream.size());
  opj_stream_set_read_function(stream.get(), Read);
  opj_stream_set_skip_function(stream.get(), Skip);
  opj_stream_set_seek_function(stream.get(), Seek);

  std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(format));
  opj_set_info_handler(codec.get(), Quiet, nullptr);
  opj_set_warning_handler(codec.get(), Quiet, nullptr);
  opj_set_error_handler(codec.get(), Quiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec.get(), &params)) return Fail(ErrorCode::kInternal, "OpenJPEG setup failed");

  opj_image_t* raw_image = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw_image)) {
    opj_image_destroy(raw_image);
    return Fail(ErrorCode::kCorruptPixelData, "unreadable JPEG 2000 header");
  }
  std::unique_ptr<opj_image_t, ImageDeleter> image(raw_image);
  const uint32_t width = image->x1 - image->x0;
  const uint32_t height = image->y1 - image->y0;
  if (width != expected.cols || height != expected.rows) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 image is {}x{}, the DICOM header says {}x{}",
                                                          width, height, expected.cols, expected.rows));
  }
  if (image->numcomps != expected.samples_per_pixel) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG 2000 image has {} components, expected {}",
                                                          image->numcomps, expected.samples_per_pixel));
  }
  if (uint64_t{width} * height * expected.samples_per_pixel * (expected.bits_allocated / 8) > max_bytes) {
    return Fail(ErrorCode::kTooLarge, "JPEG 2000 frame exceeds the decode limit");
  }
  // Fewer pixels asked for: skip the resolution levels that would only be thrown away. Each level
  // halves both sides (rounding up); the codestream says how many levels each component has.
  uint32_t reduce = 0;
  if (min_longest_side > 0) {
    opj_codestream_info_v2_t* cinfo = opj_get_cstr_info(codec.get());
    uint32_t levels = 1;
    if (cinfo != nullptr && cinfo->m_default_tile_info.tccp_info != nullptr && cinfo->nbcomps > 0) {
      levels = cinfo->m_default_tile_info.tccp_info[0].numresolutions;
      for (uint32_t c = 1; c < cinfo->nbcomps; ++c) {
        levels = std::min<uint32_t>(levels, cinfo->m_default_tile_info.tccp_info[c].numresolutions);
      }
    }
    opj_destroy_cstr_info(&cinfo);
    // numresolutions counts the full resolution too: levels - 1 can be skipped at most.
    reduce = imaging::ReductionLevels(height, width, min_longest_side, levels == 0 ? 0 : levels - 1);
    if (reduce > 0 && !opj_set_decoded_resolution_factor(codec.get(), reduce)) reduce = 0;
  }
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
    return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 decoding failed");
  }
  // Reduced: each side halved `reduce` times, rounding up (give or take one with an image offset).
  const uint32_t out_width = reduce > 0 ? image->comps[0].w : width;
  const uint32_t out_height = reduce > 0 ? image->comps[0].h : height;
  if (reduce > 0 && (out_width == 0 || out_height == 0 || out_width > ((width >> reduce) + 1) ||
                     out_height > ((height >> reduce) + 1))) {
    return Fail(ErrorCode::kCorruptPixelData, "JPEG 2000 reduced image has an impossible size");
  }
  const uint32_t precision = image->comps[0].prec;
  for (uint32_t c = 0; c < image->numcomps; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (comp.data == nullptr || comp.w != out_width || comp.h != out_height || comp.dx != 1 || comp.dy != 1) {
      return Fail(ErrorCode::kUnsupported, "JPEG 2000 with subsampled or missing components");
    }
    if (comp.prec != precision || comp.sgnd != image->comps[0].sgnd) {
      return Fail(ErrorCode::kUnsupported, "JPEG 2000 components of different precision");
    }
  }
  if (precision == 0 || precision > expected.bits_allocated) {
    return Fail(ErrorCode::kCorruptPixelData,
                fmt::format("JPEG 2000 precision {} exceeds bits allocated {}", precision, expected.bits_allocated));
  }

  Jpeg2000Frame out;
  out.format = expected;
  out.format.bits_stored = static_cast<uint16_t>(precision);
  out.format.high_bit = static_cast<uint16_t>(precision - 1);
  // Real files mark a signed image (CT in HU) as unsigned in the codestream; pydicom and DCMTK
  // then trust Pixel Representation. Treat the samples as signed when either says so.
  out.format.is_signed = expected.is_signed || image->comps[0].sgnd != 0;
  out.format.planar = false;
  out.format.cols = out_width;
  out.format.rows = out_height;
  const size_t pixels = size_t{out_width} * out_height;
  const size_t spp = image->numcomps;
  const unsigned bytes_per_sample = expected.bits_allocated / 8u;
  out.bytes.resize(pixels * spp * bytes_per_sample);
  for (size_t c = 0; c < spp; ++c) {
    const OPJ_INT32* src = image->comps[c].data;
    for (size_t i = 0; i < pixels; ++i) {
      const auto v = static_cast<uint32_t>(src[i]);
      uint8_t* dst = out.bytes.data() + (i * spp + c) * bytes_per_sample;
      if (bytes_per_sample == 1) {
        dst[0] = static_cast<uint8_t>(v);
      } else if (bytes_per_sample == 2) {
        const auto v16 = static_cast<uint16_t>(v);
        std::memcpy(dst, &v16, 2);
      } else {
        std::memcpy(dst, &v, 4);
      }
    }
  }
  return out;
}

}  // namespace eden::dicom
