#include <gtest/gtest.h>

#include "dicom/jpeg_markers.h"

namespace eden::dicom {
namespace {

TEST(JpegMarkers, AcceptsAChainReachingTheFrameHeader) {
  // SOI, APP0 (length 4), fill byte, SOF0.
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xFF, 0xC0, 0x00, 0x0B, 8};
  EXPECT_TRUE(CheckJpegMarkers(j).has_value());
}

TEST(JpegMarkers, RejectsZeroLengthSegmentsAndGarbage) {
  EXPECT_FALSE(CheckJpegMarkers(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x00, 0xFF, 0xC0}).has_value());
  EXPECT_FALSE(CheckJpegMarkers(std::vector<uint8_t>{0xFF, 0xD8, 0x12, 0x34, 0x00, 0x00}).has_value());
  EXPECT_FALSE(CheckJpegMarkers(std::vector<uint8_t>{0x00, 0xD8, 0xFF, 0xC0}).has_value());
  EXPECT_FALSE(CheckJpegMarkers(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xD9, 0, 0}).has_value());
}

TEST(JpegMarkers, HeaderContinuingPastTheFragmentIsLeftToTheCodec) {
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 1, 2};
  EXPECT_TRUE(CheckJpegMarkers(j).has_value());
}

}  // namespace
}  // namespace eden::dicom

namespace eden::dicom {
namespace {

TEST(JpegMarkers, RejectsATemMarkerThatDcmtksScanWouldSpinOn) {
  // SOI, then a SOS segment the scan skips by its length, then 0xFF01 (TEM) where the scan
  // lands: DCMTK 3.6.7 would loop forever here.
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x03, 0x00, 0xFF, 0x01, 0x00, 0x00, 0x00};
  auto r = CheckJpegMarkers(j);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruptPixelData);
}

}  // namespace
}  // namespace eden::dicom
