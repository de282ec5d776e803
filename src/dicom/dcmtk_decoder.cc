#include "dicom/dcmtk_decoder.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dcmtk/config/osconfig.h>  // Must come first among DCMTK headers.
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <fmt/format.h>

#include "dicom/dcmtk_allocation.h"
#include "dicom/frames.h"
#include "dicom/htj2k_process.h"
#include "dicom/jpeg_lossless_codec.h"
#include "dicom/jpeg_markers.h"
#include "dicom/openjpeg_codec.h"
#include "dicom/preflight.h"
#include "dicom/rle_codec.h"
#include "dicom/turbojpeg_codec.h"
#include "imaging/render.h"
#include "imaging/resize.h"

namespace eden::dicom {
namespace {

using imaging::Lut;
using imaging::Photometric;

/// One DCMTK parse of a buffer: all of it, or up to Pixel Data (which is then read in place).
struct DcmtkRead {
  std::unique_ptr<DcmFileFormat> file = std::make_unique<DcmFileFormat>();
  OFCondition cond;
  size_t stop = 0;  ///< Where the parser stopped (for telling truncation from corruption).
};

DcmtkRead ReadWithDcmtk(std::span<const uint8_t> bytes, bool stop_at_pixel_data, size_t allocation_cap) {
  DcmInputBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  DcmtkRead r;
  const ScopedAllocationCap cap(allocation_cap);
  r.file->transferInit();
  r.cond = stop_at_pixel_data ? r.file->readUntilTag(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, DCM_PixelData)
                              : r.file->read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  r.file->transferEnd();
  r.stop = static_cast<size_t>(in.tell());
  return r;
}

void InitialiseDcmtkOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Per-file problems are reported as typed errors; DCMTK's own log lines would only repeat
    // them on stderr (and could carry attribute values).
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();    // JPEG baseline, extended, lossless (8/12/16).
    DJLSDecoderRegistration::registerCodecs();  // JPEG-LS lossless and near-lossless.
    // RLE is decoded by rle_codec.cc: DCMTK 3.6.7's RLE decoder crashes on malformed segments.
  });
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && s[start] == ' ') ++start;
  return s.substr(start);
}

std::string GetString(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return Trim(value.c_str());
}

/// Parses an IS/US-like text strictly: digits only (after trimming).
std::optional<uint32_t> ParseCount(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoul(text));
}

/// Reads a US or SS value as a signed number according to the element's VR.
std::optional<int32_t> GetUsOrSs(DcmItem& item, const DcmTagKey& tag, bool pixel_signed) {
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr || el->getLength() == 0) return std::nullopt;
  if (el->ident() == EVR_SS) {
    Sint16 v = 0;
    if (el->getSint16(v).good()) return v;
    return std::nullopt;
  }
  Uint16 v = 0;
  if (el->getUint16(v).bad()) return std::nullopt;
  return pixel_signed ? static_cast<int32_t>(static_cast<int16_t>(v)) : static_cast<int32_t>(v);
}

/// Reads a LUT (descriptor + data) from `item`. PS3.3 C.11.1.1: entries 0 means 65536; the
/// first mapped value is signed when the input is signed.
Result<Lut> ReadLut(DcmItem& item, const DcmTagKey& descriptor_tag, const DcmTagKey& data_tag, bool input_signed) {
  Uint16 d[3] = {0, 0, 0};
  for (unsigned long i = 0; i < 3; ++i) {
    if (item.findAndGetUint16(descriptor_tag, d[i], i).bad()) {
      return Fail(ErrorCode::kMalformed, "LUT descriptor does not have three values");
    }
  }
  const size_t entries = d[0] == 0 ? 65536u : d[0];
  Lut lut;
  lut.first_mapped = input_signed ? static_cast<int16_t>(d[1]) : static_cast<int32_t>(d[1]);
  lut.bits = d[2];
  if (lut.bits < 1 || lut.bits > 16) {
    return Fail(ErrorCode::kMalformed, fmt::format("LUT with {} bits per entry", lut.bits));
  }
  const Uint16* data = nullptr;
  unsigned long count = 0;
  if (item.findAndGetUint16Array(data_tag, data, &count).bad() || data == nullptr) {
    return Fail(ErrorCode::kMalformed, "LUT without data");
  }
  if (count >= entries) {
    lut.data.assign(data, data + entries);
  } else if (lut.bits <= 8 && count * 2 >= entries) {
    // 8-bit entries packed two to a 16-bit word (low byte first).
    lut.data.resize(entries);
    for (size_t i = 0; i < entries; ++i) lut.data[i] = (data[i / 2] >> (8 * (i % 2))) & 0xFF;
  } else {
    return Fail(ErrorCode::kMalformed, fmt::format("LUT descriptor says {} entries, data has {}", entries, count));
  }
  return lut;
}

/// Transfer syntaxes decoded by DCMTK's dcmjpeg (JPEG processes 1-14, 1.2.840.10008.1.2.4.50-70).
bool IsDcmtkJpeg(E_TransferSyntax xfer) {
  const std::string_view uid = DcmXfer(xfer).getXferID();
  return uid.rfind("1.2.840.10008.1.2.4.5", 0) == 0 || uid.rfind("1.2.840.10008.1.2.4.6", 0) == 0 ||
         uid == "1.2.840.10008.1.2.4.70";
}

bool IsJpegLossless(E_TransferSyntax xfer) { return xfer == EXS_JPEGProcess14 || xfer == EXS_JPEGProcess14SV1; }

/// Transfer syntaxes whose frames we decode ourselves from fragments in the input buffer.
/// The name of a transfer syntax newer than this DCMTK ("" for others).
std::string NewerTransferSyntaxName(const std::string& uid) {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)"},
      {"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"},
      {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression"},
      {"1.2.840.10008.1.2.4.110", "JPEG XL Lossless"},
      {"1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression"},
      {"1.2.840.10008.1.2.4.112", "JPEG XL"},
  };
  for (const auto& [known, name] : kNames) {
    if (uid == known) return name;
  }
  return "";
}

/// " (<name>)" for transfer syntaxes newer than this DCMTK ("" for others).
std::string UnknownTransferSyntaxName(const std::string& uid) {
  std::string name = NewerTransferSyntaxName(uid);
  return name.empty() ? name : " (" + name + ")";
}

/// High-Throughput JPEG 2000 (PS3.5 A.4.11, 2023): newer than this DCMTK, whose data sets it
/// parses up to the pixel data; the codestreams are JPEG 2000 Part 15, which OpenJPEG 2.5 decodes.
bool IsHtj2k(const std::string& uid) {
  return uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" || uid == "1.2.840.10008.1.2.4.203";
}

bool IsOwnCodec(const std::string& uid) {
  return IsHtj2k(uid) || uid == "1.2.840.10008.1.2.5" ||  // RLE Lossless
         uid == "1.2.840.10008.1.2.4.90" ||               // JPEG 2000 lossless
         uid == "1.2.840.10008.1.2.4.91" ||               // JPEG 2000
         uid == "1.2.840.10008.1.2.4.57" ||               // JPEG lossless, process 14
         uid == "1.2.840.10008.1.2.4.70";                 // JPEG lossless, SV1
}

bool IsJpeg2000(E_TransferSyntax xfer) {
  return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 || xfer == EXS_JPEG2000MulticomponentLosslessOnly ||
         xfer == EXS_JPEG2000Multicomponent;
}

/// Pixel data inside the caller's buffer: uncompressed bytes, or (for the codecs that are ours:
/// RLE, JPEG 2000, JPEG lossless) the encapsulated items, so DCMTK never copies them.
struct NativePixels {
  std::span<const uint8_t> bytes;
  bool big_endian = false;
  bool vr_ow = false;
  bool encapsulated = false;
  std::vector<std::span<const uint8_t>> items;  ///< Item 0: Basic Offset Table.
};

class DcmtkObject final : public DicomObject {
 public:
  /// `native`: where the uncompressed pixel data lies in the caller's buffer, when DCMTK was
  /// stopped before it (the zero-copy path); nullopt when DCMTK holds the pixel data.
  /// `htj2k`: the frames are High-Throughput JPEG 2000 (`xfer` says JPEG 2000).
  DcmtkObject(std::unique_ptr<DcmFileFormat> file, DicomInfo info, E_TransferSyntax xfer, bool htj2k,
              DecodeLimits limits, std::optional<NativePixels> native, std::span<const uint8_t> input,
              std::shared_ptr<const std::vector<uint8_t>> owned)
      : owned_(std::move(owned)),
        file_(std::move(file)),
        info_(std::move(info)),
        xfer_(xfer),
        htj2k_(htj2k),
        limits_(limits),
        native_(std::move(native)),
        input_(input) {}

  const DicomInfo& info() const override { return info_; }
  void PreferReducedFrames(uint32_t longest_side) override { reduced_to_ = longest_side; }

  /// Every decoded frame, whatever produced it, is checked here against its declared geometry
  /// (rows x columns x samples x bytes per sample, or the 4:2:2 layout) before a renderer sees
  /// it: renderers may then assume a whole frame.
  Result<DecodedFrame> DecodeFrame(uint32_t index) override {
    auto frame = DecodeFrameUnchecked(index);
    if (!frame) return frame;
    if (auto ok = CheckDecodedFrame(*frame, index, DcmXfer(xfer_).isEncapsulated()); !ok) return Fail(ok.error());
    return ReduceWholeFrame(std::move(*frame));
  }

 private:
  Result<DecodedFrame> DecodeFrameUnchecked(uint32_t index) {
    if (index >= info_.number_of_frames) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("frame {} requested, the image has {}", index + 1, info_.number_of_frames));
    }
    if (native_ && !native_->encapsulated) return DecodeNativeFrame(*native_, index);
    if (native_) {
      auto frame = DecodeOwnCodecFrame(*native_, index);
      // Lossless JPEG our decoder does not handle (hierarchical, subsampled...): DCMTK's turn.
      if (frame || frame.error().code() != ErrorCode::kUnsupported || !IsJpegLossless(xfer_)) return frame;
      if (auto ok = ParseFully(); !ok) return Fail(ok.error());
    }
    DcmDataset& ds = *file_->getDataset();
    DcmElement* element = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
      return Fail(ErrorCode::kNoPixelData, "no pixel data");
    }
    // A hostile file can give (7FE0,0010) another VR (OV, OL...): then it is not a DcmPixelData.
    auto* pixel = dynamic_cast<DcmPixelData*>(element);
    if (pixel == nullptr) return Fail(ErrorCode::kMalformed, "Pixel Data has an impossible VR");
    if (info_.format.bits_allocated == 1) return DecodeBitFrame(*pixel, index);
    if (IsJpeg2000(xfer_) || xfer_ == EXS_RLELossless || ScaledJpeg()) return DecodeFragmentsFrame(*pixel, index);
    return DecodeWithDcmtk(ds, *pixel, index);
  }

  /// A greyscale frame decoded whole (uncompressed, RLE, lossless JPEG...) asked for at a fraction
  /// of its size (PreferReducedFrames): halved by box averaging before it is windowed, as far as
  /// the size asked for allows, like a JPEG 2000 reduced-resolution decode (imaging::BoxReduce).
  /// Not for frames a codec already reduced, small frames (the reduce_from_pixels rule), colour or
  /// palette frames, or frames with a Pixel Padding Value (averaging padding into the image would
  /// move the automatic window).
  DecodedFrame ReduceWholeFrame(DecodedFrame frame) const {
    const imaging::PixelFormat& f = frame.format;
    if (reduced_to_ == 0 || f.rows != info_.format.rows || f.cols != info_.format.cols ||
        uint64_t{f.rows} * f.cols < limits_.reduce_from_pixels || !imaging::CanBoxReduce(f) ||
        !imaging::IsMonochrome(frame.photometric) || info_.display.padding_value.has_value()) {
      return frame;
    }
    const uint32_t levels = imaging::ReductionLevels(f.rows, f.cols, reduced_to_);
    if (levels == 0) return frame;
    auto reduced = imaging::BoxReduce(frame.View(), levels);
    DecodedFrame out;
    out.format = reduced.format;
    out.photometric = frame.photometric;
    out.Own(std::move(reduced.bytes));
    return out;
  }

  /// Frames of our own codecs, from fragments in the input buffer (no DCMTK copy).
  Result<DecodedFrame> DecodeOwnCodecFrame(const NativePixels& native, uint32_t index) const {
    std::vector<uint8_t> scratch;
    auto codestream = LocateFrame(SplitItems(native.items), index, info_.number_of_frames, scratch);
    if (!codestream) return Fail(codestream.error());
    return DecodeCodestream(*codestream, index);
  }

  /// JPEG baseline greyscale frames asked for at half their size or less: libjpeg-turbo decodes
  /// them scaled in the IDCT (DecodeJpegScaled) instead of DCMTK decoding every pixel.
  bool ScaledJpeg() const {
    const imaging::PixelFormat& f = info_.format;
    return xfer_ == EXS_JPEGProcess1 && reduced_to_ > 0 && f.samples_per_pixel == 1 && f.bits_allocated == 8 &&
           uint64_t{f.rows} * f.cols >= limits_.reduce_from_pixels && std::max(f.rows, f.cols) / 2 >= reduced_to_;
  }

  /// Decodes one frame's codestream with the codec that is ours for this transfer syntax.
  Result<DecodedFrame> DecodeCodestream(std::span<const uint8_t> codestream, uint32_t index) const {
    DecodedFrame out;
    out.format = info_.format;
    out.photometric = info_.display.photometric;
    if (xfer_ == EXS_JPEGProcess1) {
      auto scaled = DecodeJpegScaled(codestream, info_.format.rows, info_.format.cols, reduced_to_);
      if (!scaled) return Fail(scaled.error().WithContext(fmt::format("frame {}", index + 1)));
      out.format.rows = scaled->rows;
      out.format.cols = scaled->cols;
      out.Own(std::move(scaled->bytes));
      return out;
    }
    if (xfer_ == EXS_RLELossless) {
      auto samples = DecodeRleFrame(codestream, info_.format);
      if (!samples) return Fail(samples.error().WithContext(fmt::format("frame {}", index + 1)));
      out.Own(std::move(*samples));
      out.format.planar = false;
      return out;
    }
    if (IsJpegLossless(xfer_)) {
      if (auto ok = CheckJpegMarkers(codestream); !ok)
        return Fail(ok.error().WithContext(fmt::format("frame {}", index + 1)));
      auto samples = DecodeJpegLosslessFrame(codestream, info_.format);
      if (!samples) {
        if (samples.error().code() == ErrorCode::kUnsupported) return Fail(samples.error());
        return Fail(samples.error().WithContext(fmt::format("frame {}", index + 1)));
      }
      out.Own(std::move(*samples));
      out.format.planar = false;
      return out;
    }
    const bool large = uint64_t{info_.format.rows} * info_.format.cols >= limits_.reduce_from_pixels;
    auto decoded = DecodeJpeg2000Frame(codestream, large ? reduced_to_ : 0);
    if (!decoded) return Fail(decoded.error().WithContext(fmt::format("frame {}", index + 1)));
    out.Own(std::move(decoded->bytes));
    out.format = decoded->format;
    // YBR_ICT / YBR_RCT codestreams carry the colour transform; OpenJPEG undoes it, so what it
    // returns is RGB (PS3.5 8.2.4). ParsePhotometric already maps both to RGB.
    return out;
  }

  /// HTJ2K through OpenJPH in its own process (~3x faster than OpenJPEG on HT code blocks);
  /// anything that does not give (a JP2 box, Part 1 code blocks, a codestream OpenJPH refuses,
  /// fails or crashes on, no helper installed) and classic JPEG 2000 through OpenJPEG in-process,
  /// whose verdict is then the one reported.
  Result<Jpeg2000Frame> DecodeJpeg2000Frame(std::span<const uint8_t> codestream, uint32_t min_longest_side) const {
    if (htj2k_) {
      auto frame =
          DecodeHtj2kInHelper(Htj2kHelperPath(), codestream, info_.format, limits_.max_frame_bytes, min_longest_side);
      if (frame) return frame;
    }
    return DecodeJpeg2000(codestream, info_.format, limits_.max_frame_bytes, min_longest_side);
  }

  /// Gives DCMTK the whole data set (it stopped before Pixel Data), for a fallback codec.
  Status ParseFully() {
    auto r = ReadWithDcmtk(input_, false, input_.size() + 4096);
    if (r.cond.bad()) return Fail(ErrorCode::kMalformed, fmt::format("unreadable data set: {}", r.cond.text()));
    file_ = std::move(r.file);
    native_.reset();
    return {};
  }

  /// Uncompressed pixel data read straight from the input (frames.h: a view, or swapped).
  Result<DecodedFrame> DecodeNativeFrame(const NativePixels& native, uint32_t index) const {
    return NativeFrame(native.bytes, info_.format, info_.display.photometric, native.big_endian && native.vr_ow, index);
  }

  Result<DecodedFrame> DecodeWithDcmtk(DcmDataset& ds, DcmPixelData& pixel, uint32_t index) {
    const imaging::PixelFormat& f = info_.format;
    const size_t expected = imaging::ExpectedFrameBytes(f, info_.display.photometric);
    const bool encapsulated = DcmXfer(xfer_).isEncapsulated();
    if (!encapsulated) {
      const uint64_t need = uint64_t{index + 1} * expected;
      if (pixel.getLength() < need) {
        return Fail(ErrorCode::kTruncated,
                    fmt::format("pixel data has {} bytes, frame {} needs {}", pixel.getLength(), index + 1, need));
      }
    }
    DecodedFrame out;
    out.format = f;
    out.photometric = info_.display.photometric;
    if (!encapsulated) {
      // Native data: copy the frame's bytes, swapped to little endian where the file is big
      // endian (getPartialValue swaps by the element's VR). DCMTK's own frame-size helper
      // assumes 3 samples a pixel, which is wrong for uncompressed YBR_FULL_422.
      std::vector<uint8_t> samples(expected + (expected & 1u));
      const OFCondition cond = pixel.getPartialValue(samples.data(), static_cast<Uint32>(uint64_t{index} * expected),
                                                     static_cast<Uint32>(samples.size()), nullptr, EBO_LittleEndian);
      if (cond.bad()) {
        return Fail(ErrorCode::kTruncated, fmt::format("cannot read frame {}: {}", index + 1, cond.text()));
      }
      samples.resize(expected);
      if (f.bits_allocated == 32 && DcmXfer(xfer_).isBigEndian() && pixel.getVR() == EVR_OW) {
        // getPartialValue swapped 16-bit words (OW); 32-bit samples also need their halves
        // exchanged to be little endian.
        for (size_t i = 0; i + 4 <= samples.size(); i += 4) {
          std::swap(samples[i], samples[i + 2]);
          std::swap(samples[i + 1], samples[i + 3]);
        }
      }
      out.Own(std::move(samples));
      return out;
    }
    if (IsDcmtkJpeg(xfer_)) {
      // Lossless JPEG gets here only when our decoder declined it (ParseFully) or the header
      // and the data disagreed; DCMTK decodes it.
      std::vector<uint8_t> scratch;
      auto compressed = FrameBytes(pixel, index, scratch);
      if (!compressed) return Fail(compressed.error());
      if (auto ok = CheckJpegMarkers(*compressed); !ok) {
        return Fail(ok.error().WithContext(fmt::format("frame {}", index + 1)));
      }
    }
    // A codec may return more than the file's layout suggests (4:2:2 JPEG comes back
    // upsampled), so give encapsulated frames room for full-resolution samples.
    Uint32 frame_size = 0;
    if (pixel.getUncompressedFrameSize(&ds, frame_size).bad()) frame_size = 0;
    frame_size = static_cast<Uint32>(std::max<size_t>({frame_size, expected, f.FrameBytes()}));
    std::vector<uint8_t> samples(frame_size + (frame_size & 1u));
    Uint32 start_fragment = 0;
    OFString colour_model;
    OFCondition cond = pixel.getUncompressedFrame(&ds, index, start_fragment, samples.data(),
                                                  static_cast<Uint32>(samples.size()), colour_model);
    if (cond.bad()) {
      return Fail(ErrorCode::kCorruptPixelData, fmt::format("cannot decode frame {}: {}", index + 1, cond.text()));
    }
    {
      // Codecs report the colour model of what they produced (a JPEG decoder converts YCbCr to
      // RGB) and update Planar Configuration (RLE produces colour-by-plane).
      if (!colour_model.empty()) out.photometric = imaging::ParsePhotometric(colour_model.c_str());
      // Decoders always return full-resolution chroma.
      if (out.photometric == Photometric::kYbrFull422) out.photometric = Photometric::kYbrFull;
      Uint16 planar = 0;
      if (f.samples_per_pixel > 1 && ds.findAndGetUint16(DCM_PlanarConfiguration, planar).good()) {
        out.format.planar = planar == 1;
      }
    }
    samples.resize(std::min<size_t>(samples.size(), imaging::ExpectedFrameBytes(out.format, out.photometric)));
    out.Own(std::move(samples));
    return out;
  }

  Result<DecodedFrame> DecodeBitFrame(DcmPixelData& pixel, uint32_t index) const {
    Uint8* data = nullptr;
    if (DcmXfer(xfer_).isEncapsulated() || pixel.getUint8Array(data).bad() || data == nullptr) {
      return Fail(ErrorCode::kUnsupported, "1-bit pixel data must be uncompressed");
    }
    return UnpackBitFrame(std::span<const uint8_t>(data, pixel.getLength()), info_.format, info_.display.photometric,
                          index);
  }

  /// Frames whose codec is ours (RLE) or OpenJPEG (JPEG 2000), from DCMTK's copy of the data
  /// set (the fallback when the input could not be read in place): locate, then decode.
  Result<DecodedFrame> DecodeFragmentsFrame(DcmPixelData& pixel, uint32_t index) {
    std::vector<uint8_t> scratch;
    auto codestream = FrameBytes(pixel, index, scratch);
    if (!codestream) return Fail(codestream.error());
    return DecodeCodestream(*codestream, index);
  }

  /// The compressed bytes of frame `index` in DCMTK's pixel sequence (LocateFrame: a view into
  /// DCMTK's item, or the fragments joined in `scratch`).
  Result<std::span<const uint8_t>> FrameBytes(DcmPixelData& pixel, uint32_t index, std::vector<uint8_t>& scratch) {
    DcmPixelSequence* seq = nullptr;
    const DcmRepresentationParameter* param = nullptr;
    if (pixel.getEncapsulatedRepresentation(xfer_, param, seq).bad() || seq == nullptr) {
      return Fail(ErrorCode::kCorruptPixelData, "compressed pixel data is not encapsulated");
    }
    std::vector<std::span<const uint8_t>> items;
    const unsigned long count = seq->card();
    for (unsigned long i = 0; i < count; ++i) {
      DcmPixelItem* item = nullptr;
      if (seq->getItem(item, i).bad() || item == nullptr) break;
      Uint8* bytes = nullptr;
      const Uint32 length = item->getLength();
      if (length > 0 && (item->getUint8Array(bytes).bad() || bytes == nullptr)) {
        return Fail(ErrorCode::kCorruptPixelData, "unreadable pixel data fragment");
      }
      items.emplace_back(bytes, length);
    }
    return LocateFrame(SplitItems(items), index, info_.number_of_frames, scratch);
  }

  std::shared_ptr<const std::vector<uint8_t>> owned_;  ///< The bytes `input_` views, when they are ours.
  std::unique_ptr<DcmFileFormat> file_;
  uint32_t reduced_to_ = 0;  ///< PreferReducedFrames.
  DicomInfo info_;
  E_TransferSyntax xfer_;
  bool htj2k_ = false;
  DecodeLimits limits_;
  std::optional<NativePixels> native_;
  std::span<const uint8_t> input_;
};

/// `stop` is where the parser gave up. A parser that consumed every byte and still wanted more
/// read a truncated file; one that stopped early met an element it could not accept (DCMTK
/// checks a value's length against the bytes left before reading it).
Error ClassifyReadFailure(const OFCondition& cond, bool part10, std::span<const uint8_t> bytes, size_t stop) {
  if (!part10) return Error(ErrorCode::kNotDicom, fmt::format("not a DICOM file ({})", cond.text()));
  if (cond == EC_StreamNotifyClient || cond == EC_EndOfStream || stop >= bytes.size()) {
    return Error(ErrorCode::kTruncated, fmt::format("file ends inside a data element ({} bytes)", bytes.size()));
  }
  return Error(ErrorCode::kMalformed, fmt::format("unreadable data set at byte {}: {}", stop, cond.text()));
}

Result<DicomInfo> ReadInfo(DcmDataset& ds, E_TransferSyntax xfer, const DecodeLimits& limits) {
  DicomInfo info;
  DcmXfer x(xfer);
  info.transfer_syntax_uid = x.getXferID();
  info.transfer_syntax_name = x.getXferName();
  info.sop_class_uid = GetString(ds, DCM_SOPClassUID);
  info.modality = GetString(ds, DCM_Modality);
  info.view_position = GetString(ds, DCM_ViewPosition);
  info.body_part = GetString(ds, DCM_BodyPartExamined);
  info.laterality = GetString(ds, DCM_ImageLaterality);
  if (info.laterality.empty()) info.laterality = GetString(ds, DCM_Laterality);
  info.sex = GetString(ds, DCM_PatientSex);
  info.age = GetString(ds, DCM_PatientAge);
  if (std::string id = GetString(ds, DCM_PatientID); !id.empty()) {
    info.patient_group = GetString(ds, DCM_IssuerOfPatientID) + "|" + id;
  }

  Uint16 rows = 0, cols = 0, spp = 1, alloc = 0, stored = 0, high = 0, rep = 0, planar = 0;
  if (ds.findAndGetUint16(DCM_Rows, rows).bad() || ds.findAndGetUint16(DCM_Columns, cols).bad() ||
      ds.findAndGetUint16(DCM_BitsAllocated, alloc).bad()) {
    return Fail(ErrorCode::kMalformed, "pixel data without Rows, Columns or Bits Allocated");
  }
  ds.findAndGetUint16(DCM_SamplesPerPixel, spp);
  if (ds.findAndGetUint16(DCM_BitsStored, stored).bad()) stored = alloc;
  if (ds.findAndGetUint16(DCM_HighBit, high).bad()) high = static_cast<Uint16>(stored - 1);
  ds.findAndGetUint16(DCM_PixelRepresentation, rep);
  ds.findAndGetUint16(DCM_PlanarConfiguration, planar);
  if (rows == 0 || cols == 0 || rows > limits.max_dimension || cols > limits.max_dimension) {
    return Fail(ErrorCode::kMalformed, fmt::format("image size {}x{} out of range", cols, rows));
  }
  if (spp != 1 && spp != 3) return Fail(ErrorCode::kUnsupported, fmt::format("{} samples per pixel", spp));
  if (alloc != 1 && alloc != 8 && alloc != 16 && alloc != 32) {
    return Fail(ErrorCode::kUnsupported, fmt::format("bits allocated {}", alloc));
  }
  if (stored == 0 || stored > alloc || high >= alloc || high + 1 < stored) {
    return Fail(ErrorCode::kMalformed,
                fmt::format("bits allocated {}, stored {}, high bit {} are inconsistent", alloc, stored, high));
  }
  info.format = {rows, cols, spp, alloc, stored, high, rep == 1, planar == 1};
  if (uint64_t{rows} * cols * spp * std::max<Uint16>(alloc, 8) / 8 > limits.max_frame_bytes) {
    return Fail(ErrorCode::kTooLarge, fmt::format("a {}x{} frame exceeds the decode limit", cols, rows));
  }

  const std::string frames_text = GetString(ds, DCM_NumberOfFrames);
  if (!frames_text.empty()) {
    auto frames = ParseCount(frames_text);
    if (!frames)
      return Fail(ErrorCode::kMalformed, fmt::format("Number of Frames '{}' is not an integer", frames_text));
    info.number_of_frames = std::max<uint32_t>(1, *frames);
  }

  info.photometric = GetString(ds, DCM_PhotometricInterpretation);
  if (info.photometric.empty()) info.photometric = spp == 1 ? "MONOCHROME2" : "RGB";
  imaging::DisplayAttributes& d = info.display;
  d.photometric = imaging::ParsePhotometric(info.photometric);
  if (d.photometric == Photometric::kOther) {
    return Fail(ErrorCode::kUnsupported, fmt::format("photometric interpretation {}", info.photometric));
  }

  Float64 value = 0;
  if (ds.findAndGetFloat64(DCM_RescaleSlope, value).good() && value != 0.0) d.rescale_slope = value;
  if (ds.findAndGetFloat64(DCM_RescaleIntercept, value).good()) d.rescale_intercept = value;
  const bool is_signed = rep == 1;
  DcmSequenceOfItems* seq = nullptr;
  if (ds.findAndGetSequence(DCM_ModalityLUTSequence, seq).good() && seq && seq->card() > 0) {
    auto lut = ReadLut(*seq->getItem(0), DCM_LUTDescriptor, DCM_LUTData, is_signed);
    if (!lut) return Fail(lut.error().WithContext("Modality LUT"));
    d.modality_lut = std::move(*lut);
  }

  // Windows: Window Center and Width are paired by position; VOI LUT Function applies to all.
  const std::string function_text = GetString(ds, DCM_VOILUTFunction);
  const imaging::VoiFunction function =
      imaging::ParseVoiFunction(function_text).value_or(imaging::VoiFunction::kLinear);
  DcmElement* centres = nullptr;
  if (ds.findAndGetElement(DCM_WindowCenter, centres).good() && centres) {
    const unsigned long count = centres->getVM();
    for (unsigned long i = 0; i < count; ++i) {
      Float64 c = 0, w = 0;
      if (ds.findAndGetFloat64(DCM_WindowCenter, c, i).bad() || ds.findAndGetFloat64(DCM_WindowWidth, w, i).bad()) {
        continue;
      }
      d.windows.push_back({c, w, function});
    }
  }
  // The VOI LUT's input is the Modality LUT's output: signed if the rescale can go negative.
  const bool voi_input_signed = is_signed || d.rescale_intercept < 0;
  if (ds.findAndGetSequence(DCM_VOILUTSequence, seq).good() && seq) {
    for (unsigned long i = 0; i < seq->card(); ++i) {
      auto lut = ReadLut(*seq->getItem(i), DCM_LUTDescriptor, DCM_LUTData, voi_input_signed);
      if (lut) d.voi_luts.push_back(std::move(*lut));
    }
  }
  d.padding_value = GetUsOrSs(ds, DCM_PixelPaddingValue, is_signed);
  d.padding_range_limit = GetUsOrSs(ds, DCM_PixelPaddingRangeLimit, is_signed);

  if (d.photometric == Photometric::kPaletteColor) {
    if (ds.tagExists(DCM_SegmentedRedPaletteColorLookupTableData)) {
      return Fail(ErrorCode::kUnsupported, "segmented palette colour lookup tables");
    }
    auto r = ReadLut(ds, DCM_RedPaletteColorLookupTableDescriptor, DCM_RedPaletteColorLookupTableData, is_signed);
    auto g = ReadLut(ds, DCM_GreenPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableData, is_signed);
    auto b = ReadLut(ds, DCM_BluePaletteColorLookupTableDescriptor, DCM_BluePaletteColorLookupTableData, is_signed);
    if (!r || !g || !b) return Fail(ErrorCode::kMalformed, "PALETTE COLOR image with unreadable palette tables");
    d.palette_red = std::move(*r);
    d.palette_green = std::move(*g);
    d.palette_blue = std::move(*b);
  }
  return info;
}

}  // namespace

DcmtkDecoder::DcmtkDecoder(DecodeLimits limits) : limits_(limits) { InitialiseDcmtkOnce(); }

Result<std::unique_ptr<DicomObject>> DcmtkDecoder::Open(std::span<const uint8_t> bytes) const {
  return OpenOwned(bytes, nullptr, {});
}

Result<std::unique_ptr<DicomObject>> DcmtkDecoder::OpenOwned(std::span<const uint8_t> bytes,
                                                             std::shared_ptr<const std::vector<uint8_t>> owned,
                                                             std::vector<std::string> warnings) const {
  if (!dcmDataDict.isDictionaryLoaded()) {
    return Fail(ErrorCode::kInternal, "DCMTK data dictionary not loaded (is libdcmtk installed? DCMDICTPATH?)");
  }
  if (bytes.size() < 8) return Fail(ErrorCode::kNotDicom, fmt::format("{} bytes is too short for DICOM", bytes.size()));
  const bool part10 = LooksLikePart10(bytes);
  auto preflight = PreflightCheck(bytes);
  if (!preflight) {
    // A file that is not DICOM at all fails here too; call it that rather than "truncated".
    if (!part10 && preflight.error().code() != ErrorCode::kNotDicom) {
      return Fail(ErrorCode::kNotDicom, fmt::format("not a DICOM file ({})", preflight.error().message()));
    }
    return Fail(preflight.error());
  }
  if (!preflight->strip.empty() && !owned) {
    // Elements no parser should see (see PreflightInfo::strip): read a copy without them.
    auto clean = std::make_shared<std::vector<uint8_t>>();
    clean->reserve(bytes.size());
    size_t from = 0;
    for (const auto& [offset, length] : preflight->strip) {
      clean->insert(clean->end(), bytes.begin() + static_cast<std::ptrdiff_t>(from),
                    bytes.begin() + static_cast<std::ptrdiff_t>(offset));
      from = offset + length;
    }
    clean->insert(clean->end(), bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.end());
    return OpenOwned(
        *clean, clean,
        {fmt::format("{} command-group (0000,xxxx) element(s) in the data set were skipped", preflight->strip.size())});
  }
  // A transfer syntax this build does not know (High-Throughput JPEG 2000, added in 2023, among
  // others): DCMTK would guess at the encoding and find no usable pixel data ("pixel data has 0
  // bytes"); it is a format eden does not decode, said with its UID.
  if (!preflight->transfer_syntax.empty() && preflight->pixel_data && !IsHtj2k(preflight->transfer_syntax) &&
      DcmXfer(preflight->transfer_syntax.c_str()).getXfer() == EXS_Unknown) {
    return Fail(ErrorCode::kUnsupported,
                fmt::format("transfer syntax {}{} is not supported", preflight->transfer_syntax,
                            UnknownTransferSyntaxName(preflight->transfer_syntax)));
  }
  // Uncompressed pixel data of defined length: DCMTK parses up to it, and frames are read from
  // `bytes` directly (no copy of a 15 MB radiograph into DCMTK and out again).
  std::optional<NativePixels> native;
  if (preflight->pixel_data && preflight->pixel_data->length != 0xFFFFFFFFu && !preflight->deflated) {
    const auto& loc = *preflight->pixel_data;
    if (loc.offset > bytes.size() || loc.length > bytes.size() - loc.offset) {
      return Fail(ErrorCode::kTruncated, fmt::format("pixel data declares {} bytes, {} remain", loc.length,
                                                     bytes.size() - std::min<size_t>(loc.offset, bytes.size())));
    }
    native = NativePixels{
        bytes.subspan(loc.offset, static_cast<size_t>(loc.length)), preflight->big_endian, loc.vr_ow, false, {}};
  } else if (preflight->pixel_data && !preflight->deflated && !preflight->pixel_data->items.empty()) {
    // Encapsulated: kept in place when the codec is ours (decided once the transfer syntax is known).
    native = NativePixels{{}, preflight->big_endian, false, true, {}};
    for (const auto& [offset, length] : preflight->pixel_data->items) {
      if (offset > bytes.size() || length > bytes.size() - offset) {
        return Fail(ErrorCode::kTruncated, "a pixel data fragment runs past the end of the file");
      }
      native->items.push_back(bytes.subspan(offset, length));
    }
  }
  if (native && native->encapsulated && !IsOwnCodec(preflight->transfer_syntax)) native.reset();

  // Deflated data sets inflate to more than their size; allow up to the frame limit there.
  auto read = ReadWithDcmtk(bytes, native.has_value(),
                            std::max<size_t>(bytes.size() + 4096, preflight->deflated ? limits_.max_frame_bytes : 0));
  if (read.cond.bad()) return Fail(ClassifyReadFailure(read.cond, part10, bytes, read.stop));
  auto file = std::move(read.file);

  DcmDataset& ds = *file->getDataset();
  // HTJ2K: DCMTK read the attributes as the explicit little endian they are; the frames are
  // JPEG 2000 codestreams (HT block coding) for our JPEG 2000 path, reduced resolution included.
  const bool htj2k = IsHtj2k(preflight->transfer_syntax) && native && native->encapsulated;
  const E_TransferSyntax xfer = htj2k ? EXS_JPEG2000 : ds.getOriginalXfer();
  if (!native && !ds.tagExists(DCM_PixelData)) {
    if (!part10 && !ds.tagExists(DCM_SOPClassUID)) return Fail(ErrorCode::kNotDicom, "not a DICOM file");
    if (ds.tagExists(DCM_FloatPixelData) || ds.tagExists(DCM_DoubleFloatPixelData)) {
      return Fail(ErrorCode::kUnsupported, "float pixel data");
    }
    const std::string modality = GetString(ds, DCM_Modality);
    const std::string sop = GetString(ds, DCM_SOPClassUID);
    const char* sop_name = sop.empty() ? nullptr : dcmFindNameOfUID(sop.c_str());
    return Fail(
        ErrorCode::kNoPixelData,
        fmt::format("no pixel data ({})", sop_name ? sop_name : (modality.empty() ? "unknown object" : modality)));
  }
  auto info = ReadInfo(ds, xfer, limits_);
  if (!info) return Fail(info.error());
  info->warnings = std::move(warnings);
  if (htj2k) {  // Decoded as JPEG 2000, reported as what the file says it is (CSV, JSON, summary).
    info->transfer_syntax_uid = preflight->transfer_syntax;
    info->transfer_syntax_name = NewerTransferSyntaxName(preflight->transfer_syntax);
  }
  const bool own_codec = IsJpeg2000(xfer) || xfer == EXS_RLELossless || IsJpegLossless(xfer);
  if (native && (native->encapsulated ? !own_codec : DcmXfer(xfer).isEncapsulated())) {
    // The meta header's transfer syntax and the pixel data's encoding disagree, or the guess at
    // the codec was wrong: let DCMTK read it all and decide.
    native.reset();
    auto again = ReadWithDcmtk(bytes, false, bytes.size() + 4096);
    if (again.cond.bad()) return Fail(ClassifyReadFailure(again.cond, part10, bytes, again.stop));
    file = std::move(again.file);
  }
  return std::unique_ptr<DicomObject>(std::make_unique<DcmtkObject>(
      std::move(file), std::move(*info), xfer, htj2k, limits_, std::move(native), bytes, std::move(owned)));
}

}  // namespace eden::dicom
