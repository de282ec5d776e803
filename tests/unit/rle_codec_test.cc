#include <gtest/gtest.h>

#include "dicom/rle_codec.h"

namespace eden::dicom {
namespace {

/// An RLE frame: 64-byte header (segment count, offsets) followed by the segments.
std::vector<uint8_t> RleFrame(const std::vector<std::vector<uint8_t>>& segments) {
  std::vector<uint8_t> out(64, 0);
  auto put32 = [&out](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put32(0, static_cast<uint32_t>(segments.size()));
  for (size_t s = 0; s < segments.size(); ++s) {
    put32(4 + 4 * s, static_cast<uint32_t>(out.size()));
    out.insert(out.end(), segments[s].begin(), segments[s].end());
  }
  return out;
}

imaging::PixelFormat Format(uint32_t cols, uint16_t spp, uint16_t bits) {
  return {1, cols, spp, bits, bits, static_cast<uint16_t>(bits - 1), false, false};
}

TEST(Rle, LiteralAndReplicateRuns) {
  // 0x02: copy 3 literal bytes; 0xFE (-2): repeat the next byte 3 times; 0x80: no-op.
  auto frame = RleFrame({{0x02, 1, 2, 3, 0x80, 0xFE, 9}});
  auto out = DecodeRleFrame(frame, Format(6, 1, 8));
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(*out, (std::vector<uint8_t>{1, 2, 3, 9, 9, 9}));
}

TEST(Rle, SixteenBitSegmentsAreMostSignificantFirst) {
  auto frame = RleFrame({{0x01, 0x12, 0xAB}, {0x01, 0x34, 0xCD}});
  auto out = DecodeRleFrame(frame, Format(2, 1, 16));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, (std::vector<uint8_t>{0x34, 0x12, 0xCD, 0xAB}));  // Little endian 0x1234, 0xABCD.
}

TEST(Rle, RgbSegmentsAreInterleaved) {
  auto frame = RleFrame({{0xFF, 10}, {0xFF, 20}, {0xFF, 30}});
  auto out = DecodeRleFrame(frame, Format(2, 3, 8));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, (std::vector<uint8_t>{10, 20, 30, 10, 20, 30}));
}

TEST(Rle, RunPastTheFrameIsCorrupt) {
  auto frame = RleFrame({{0x85, 1}});  // -123: 124 copies into a 4-pixel frame.
  auto out = DecodeRleFrame(frame, Format(4, 1, 8));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kCorruptPixelData);
}

TEST(Rle, SegmentEndingEarlyIsCorrupt) {
  auto frame = RleFrame({{0x05, 1, 2}});
  EXPECT_FALSE(DecodeRleFrame(frame, Format(6, 1, 8)).has_value());
}

TEST(Rle, WrongSegmentCountAndBadOffsetsAreCorrupt) {
  auto frame = RleFrame({{0x00, 1}});
  EXPECT_FALSE(DecodeRleFrame(frame, Format(1, 3, 8)).has_value());
  frame[4] = 0xFF;  // Offset 255 + ...: past the end.
  frame[5] = 0xFF;
  EXPECT_FALSE(DecodeRleFrame(frame, Format(1, 1, 8)).has_value());
  EXPECT_FALSE(DecodeRleFrame(std::vector<uint8_t>(10), Format(1, 1, 8)).has_value());
}

}  // namespace
}  // namespace eden::dicom
