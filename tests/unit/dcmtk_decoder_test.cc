// The decoder on real files of Debian's pydicom test set: attributes, frames, typed errors.
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "dicom/dcmtk_decoder.h"
#include "dicom/turbojpeg_codec.h"
#include "jpeg/turbojpeg_encoder.h"

namespace eden::dicom {
namespace {

std::vector<uint8_t> ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<uint8_t> Bytes(const DecodedFrame& f) { return {f.bytes.begin(), f.bytes.end()}; }

ErrorCode OpenError(const DcmtkDecoder& d, const std::vector<uint8_t>& bytes) {
  auto r = d.Open(bytes);
  return r ? ErrorCode::kInternal : r.error().code();
}

TEST(DcmtkDecoder, Jpeg2000DecodesOnlyTheResolutionLevelsAskedFor) {
  // JPEG2000.dcm is 256 x 1024 (columns x rows). Asked for a longer side of at least 300, the
  // decoder skips one level (128 x 512); of 128, three (32 x 128); of 1024 or 0, none. Each
  // reduced frame equals the full frame averaged down closely (the wavelet's low band). (The
  // file is small: the size from which reduced frames are made is lowered for it.)
  DecodeLimits limits;
  limits.reduce_from_pixels = 0;
  const DcmtkDecoder decoder(limits);
  const auto bytes = ReadCorpus("JPEG2000.dcm");
  auto object = decoder.Open(bytes);
  ASSERT_TRUE(object.has_value()) << object.error().ToString();
  auto full = (*object)->DecodeFrame(0);
  ASSERT_TRUE(full);
  ASSERT_EQ(full->format.rows, 1024u);
  ASSERT_EQ(full->format.cols, 256u);
  for (const auto& [asked, rows, cols] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
           {300, 512, 128}, {128, 128, 32}, {1024, 1024, 256}, {0, 1024, 256}}) {
    (*object)->PreferReducedFrames(asked);
    auto frame = (*object)->DecodeFrame(0);
    ASSERT_TRUE(frame) << frame.error().ToString();
    EXPECT_EQ(frame->format.rows, rows) << asked;
    EXPECT_EQ(frame->format.cols, cols) << asked;
    ASSERT_EQ(frame->bytes.size(), size_t{rows} * cols * 2);
    // Against the full frame averaged over each reduced pixel's block: within a few percent of
    // the frame's range on average.
    const uint32_t f = 1024 / rows;
    auto at = [](const DecodedFrame& d, size_t i) {
      uint16_t v;
      std::memcpy(&v, d.bytes.data() + 2 * i, 2);
      return d.format.is_signed ? static_cast<double>(static_cast<int16_t>(v)) : static_cast<double>(v);
    };
    double lo = 1e9, hi = -1e9, error = 0;
    for (size_t i = 0; i < size_t{1024} * 256; ++i) {
      lo = std::min(lo, at(*full, i));
      hi = std::max(hi, at(*full, i));
    }
    for (uint32_t y = 0; y < rows; ++y) {
      for (uint32_t x = 0; x < cols; ++x) {
        double mean = 0;
        for (uint32_t dy = 0; dy < f; ++dy) {
          for (uint32_t dx = 0; dx < f; ++dx) mean += at(*full, size_t{y * f + dy} * 256 + x * f + dx);
        }
        error += std::abs(mean / (f * f) - at(*frame, size_t{y} * cols + x));
      }
    }
    EXPECT_LT(error / (rows * cols), 0.05 * (hi - lo)) << asked;
  }
}

TEST(DcmtkDecoder, ReadsAttributesOfARealCt) {
  const DcmtkDecoder decoder;
  const auto bytes = ReadCorpus("CT_small.dcm");  // Frames may point into it: keep it alive.
  auto object = decoder.Open(bytes);
  ASSERT_TRUE(object.has_value()) << object.error().ToString();
  const DicomInfo& info = (*object)->info();
  EXPECT_EQ(info.transfer_syntax_uid, "1.2.840.10008.1.2.1");
  EXPECT_EQ(info.modality, "CT");
  EXPECT_EQ(info.format.rows, 128u);
  EXPECT_EQ(info.format.cols, 128u);
  EXPECT_EQ(info.format.bits_allocated, 16);
  EXPECT_TRUE(info.format.is_signed);
  EXPECT_EQ(info.number_of_frames, 1u);
  auto frame = (*object)->DecodeFrame(0);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->bytes.size(), 128u * 128u * 2u);
  EXPECT_FALSE((*object)->DecodeFrame(1).has_value());
}

TEST(DcmtkDecoder, BigEndianAndLittleEndianGiveTheSameSamples) {
  const DcmtkDecoder decoder;
  const auto le_bytes = ReadCorpus("MR_small.dcm");
  const auto be_bytes = ReadCorpus("MR_small_bigendian.dcm");
  auto le = decoder.Open(le_bytes);
  auto be = decoder.Open(be_bytes);
  ASSERT_TRUE(le && be);
  auto a = (*le)->DecodeFrame(0);
  auto b = (*be)->DecodeFrame(0);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Bytes(*a), Bytes(*b));
  // Little endian is read in place; big endian had to be swapped into a copy.
  EXPECT_GE(a->bytes.data(), le_bytes.data());
  EXPECT_LT(a->bytes.data(), le_bytes.data() + le_bytes.size());
  const bool b_in_input = b->bytes.data() >= be_bytes.data() && b->bytes.data() < be_bytes.data() + be_bytes.size();
  EXPECT_FALSE(b_in_input);
}

TEST(DcmtkDecoder, CompressedSyntaxesDecodeToTheUncompressedSamples) {
  const DcmtkDecoder decoder;
  const auto reference_bytes = ReadCorpus("MR_small.dcm");
  auto reference = decoder.Open(reference_bytes);
  ASSERT_TRUE(reference);
  auto expected = (*reference)->DecodeFrame(0);
  ASSERT_TRUE(expected);
  for (const char* name : {"MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"}) {
    const auto bytes = ReadCorpus(name);
    auto object = decoder.Open(bytes);
    ASSERT_TRUE(object) << name << ": " << object.error().ToString();
    auto frame = (*object)->DecodeFrame(0);
    ASSERT_TRUE(frame) << name << ": " << frame.error().ToString();
    EXPECT_EQ(Bytes(*frame), Bytes(*expected)) << name;
  }
}

TEST(DcmtkDecoder, MultiFrameFramesDiffer) {
  const DcmtkDecoder decoder;
  const auto bytes = ReadCorpus("SC_rgb_rle_2frame.dcm");
  auto object = decoder.Open(bytes);
  ASSERT_TRUE(object);
  EXPECT_EQ((*object)->info().number_of_frames, 2u);
  auto f0 = (*object)->DecodeFrame(0);
  auto f1 = (*object)->DecodeFrame(1);
  ASSERT_TRUE(f0 && f1);
  EXPECT_NE(Bytes(*f0), Bytes(*f1));
}

TEST(DcmtkDecoder, TypedErrors) {
  const DcmtkDecoder decoder;
  EXPECT_EQ(OpenError(decoder, {}), ErrorCode::kNotDicom);
  EXPECT_EQ(OpenError(decoder, ReadCorpus("README.txt")), ErrorCode::kNotDicom);
  EXPECT_EQ(OpenError(decoder, ReadCorpus("MR_truncated.dcm")), ErrorCode::kTruncated);
  EXPECT_EQ(OpenError(decoder, ReadCorpus("reportsi.dcm")), ErrorCode::kNoPixelData);
  EXPECT_EQ(OpenError(decoder, ReadCorpus("waveform_ecg.dcm")), ErrorCode::kNoPixelData);
  EXPECT_EQ(OpenError(decoder, ReadCorpus("badVR.dcm")), ErrorCode::kMalformed);
  auto html = std::string("<html><body>404 Not Found</body></html>");
  EXPECT_EQ(OpenError(decoder, std::vector<uint8_t>(html.begin(), html.end())), ErrorCode::kNotDicom);
}

TEST(DcmtkDecoder, FrameLimitRejectsHugeImagesBeforeDecoding) {
  const DcmtkDecoder decoder(DecodeLimits{1024, 65535});
  const auto bytes = ReadCorpus("CT_small.dcm");
  auto r = decoder.Open(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTooLarge);
}

TEST(DcmtkDecoder, ConcurrentOpensAgree) {
  const DcmtkDecoder decoder;
  const auto bytes = ReadCorpus("JPEG2000.dcm");
  std::vector<std::vector<uint8_t>> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto object = decoder.Open(bytes);
        if (!object) return;
        auto frame = (*object)->DecodeFrame(0);
        if (frame) results[t] = Bytes(*frame);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_FALSE(results[0].empty());
  for (const auto& r : results) EXPECT_EQ(r, results[0]);
}

}  // namespace
}  // namespace eden::dicom

namespace eden::dicom {
namespace {

TEST(DcmtkDecoder, JpegLosslessDecodesToTheSameSamplesAsRle) {
  // Two lossless encodings of one image in the pydicom set: GDCM's JPEG process 14 SV1 (our
  // decoder) and RLE (our RLE decoder) must give identical samples.
  const DcmtkDecoder decoder;
  const auto jpeg_bytes = ReadCorpus("SC_rgb_jpeg_gdcm.dcm");
  const auto rle_bytes = ReadCorpus("SC_rgb_rle.dcm");
  auto jpeg = decoder.Open(jpeg_bytes);
  auto rle = decoder.Open(rle_bytes);
  ASSERT_TRUE(jpeg && rle);
  auto a = (*jpeg)->DecodeFrame(0);
  auto b = (*rle)->DecodeFrame(0);
  ASSERT_TRUE(a && b) << (a ? "" : a.error().ToString());
  EXPECT_FALSE(a->format.planar);
  EXPECT_EQ(Bytes(*a), Bytes(*b));
}

}  // namespace
}  // namespace eden::dicom

// ---- JPEG baseline scaled in the IDCT (dicom/turbojpeg_codec.h) --------------------------------
namespace eden::dicom {
namespace {

std::vector<uint8_t> GreyJpeg(uint32_t width, uint32_t height, uint8_t channels = 1) {
  imaging::Image8 image{width, height, channels, eden::Bytes(size_t{width} * height * channels)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 7 / 5) % 251);
  auto encoded = jpeg::MakeTurboJpegEncoder()->Encode(image, {90});
  return encoded ? *encoded : std::vector<uint8_t>{};
}

TEST(JpegScaled, DecodesAtTheSmallestExactScaleDownToAHalfStillAtLeastTheTarget) {
  const auto jpeg = GreyJpeg(2048, 1536);
  ASSERT_FALSE(jpeg.empty());
  struct Case {
    uint32_t target, rows, cols;
  };
  // Never below 1/2: the 38 dB bar (bench/RESULTS.md).
  for (const Case c : {Case{1024, 768, 1024}, Case{512, 768, 1024}, Case{200, 768, 1024}, Case{1500, 1152, 1536},
                       Case{2048, 1536, 2048}, Case{0, 768, 1024}}) {
    auto frame = DecodeJpegScaled(jpeg, 1536, 2048, c.target);
    ASSERT_TRUE(frame) << frame.error().message();
    EXPECT_EQ(frame->rows, c.rows) << c.target;
    EXPECT_EQ(frame->cols, c.cols) << c.target;
    EXPECT_EQ(frame->bytes.size(), size_t{c.rows} * c.cols);
  }
  // 3000 x 2500 at 1024: 3/8 would give 937.5 columns, so 1/2 (the aspect ratio stays exact).
  const auto odd = GreyJpeg(2500, 3000);
  auto half = DecodeJpegScaled(odd, 3000, 2500, 1024);
  ASSERT_TRUE(half);
  EXPECT_EQ(half->rows, 1500u);
  EXPECT_EQ(half->cols, 1250u);
}

TEST(JpegScaled, RefusesColourWrongSizesAndGarbage) {
  const auto colour = GreyJpeg(64, 64, 3);
  auto c = DecodeJpegScaled(colour, 64, 64, 16);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnsupported);
  const auto grey = GreyJpeg(64, 48);
  auto wrong = DecodeJpegScaled(grey, 64, 64, 16);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kCorruptPixelData);
  const std::vector<uint8_t> garbage(300, 0x5A);
  auto bad = DecodeJpegScaled(garbage, 64, 64, 16);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruptPixelData);
  auto cut = DecodeJpegScaled(std::span<const uint8_t>(grey).first(grey.size() / 2), 48, 64, 16);
  // A cut stream is a warning to libjpeg-turbo (the rest grey) or an error; never a crash.
  if (cut) {
    EXPECT_EQ(cut->bytes.size(), size_t{cut->rows} * cut->cols);
  } else {
    EXPECT_EQ(cut.error().code(), ErrorCode::kCorruptPixelData);
  }
}

}  // namespace
}  // namespace eden::dicom
