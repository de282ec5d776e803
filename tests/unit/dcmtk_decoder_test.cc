// The decoder on real files of Debian's pydicom test set: attributes, frames, typed errors.
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "dicom/dcmtk_decoder.h"

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
