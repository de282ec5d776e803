#include <gtest/gtest.h>

#include "imaging/resize.h"

#include <cstring>
#include <vector>

namespace eden::imaging {
namespace {

TEST(Resize, KeepsAspectAndLongestSide) {
  Image8 img{3000, 2500, 1, Bytes(3000 * 2500, 77)};
  Image8 out = DownscaleToFit(img, 1024);
  EXPECT_EQ(out.width, 1024u);
  EXPECT_EQ(out.height, 853u);
  for (uint8_t v : out.pixels) ASSERT_EQ(v, 77);  // A flat image stays flat: weights sum to 1.
}

TEST(Resize, SmallImagesAreUntouched) {
  Image8 img{10, 5, 3, Bytes(150, 9)};
  Image8 out = DownscaleToFit(img, 64);
  EXPECT_EQ(out.width, 10u);
  EXPECT_EQ(out.pixels, img.pixels);
}

TEST(Resize, AveragesAFineCheckerboardToGrey) {
  // A 1-pixel checkerboard has no business surviving a 4x reduction (aliasing would).
  Image8 img{256, 256, 1, Bytes(256 * 256)};
  for (uint32_t y = 0; y < 256; ++y)
    for (uint32_t x = 0; x < 256; ++x) img.pixels[y * 256 + x] = ((x + y) % 2) ? 255 : 0;
  Image8 out = DownscaleToFit(img, 64);
  for (uint32_t y = 4; y < 60; ++y)
    for (uint32_t x = 4; x < 60; ++x) ASSERT_NEAR(out.pixels[y * 64 + x], 128, 3);
}

TEST(Resize, GreyscaleFastPathSumsExactlyAsTheGeneralPath) {
  // The greyscale pass runs tap by tap across the row; the colour pass one output at a time.
  // The same grey image as 1 channel and as 3 equal channels must give the same bytes.
  const uint32_t w = 1501, h = 1249;
  Image8 grey{w, h, 1, Bytes(size_t{w} * h)};
  for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  Image8 rgb{w, h, 3, Bytes(grey.pixels.size() * 3)};
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    for (int c = 0; c < 3; ++c) rgb.pixels[i * 3 + c] = grey.pixels[i];
  }
  for (uint32_t side : {1024u, 512u, 97u}) {
    const Image8 a = DownscaleToFit(grey, side);
    const Image8 b = DownscaleToFit(rgb, side);
    ASSERT_EQ(a.width, b.width);
    ASSERT_EQ(a.height, b.height);
    for (size_t i = 0; i < a.pixels.size(); ++i)
      ASSERT_EQ(a.pixels[i], b.pixels[i * 3]) << "side " << side << " at " << i;
  }
}

PixelFormat Grey(uint32_t rows, uint32_t cols, uint16_t bits_allocated, uint16_t bits_stored, bool is_signed) {
  PixelFormat f;
  f.rows = rows;
  f.cols = cols;
  f.bits_allocated = bits_allocated;
  f.bits_stored = bits_stored;
  f.high_bit = static_cast<uint16_t>(bits_stored - 1);
  f.is_signed = is_signed;
  return f;
}

TEST(BoxReduce, LevelsStopWhereTheLongerSideWouldFallBelowTheTarget) {
  EXPECT_EQ(ReductionLevels(2500, 3000, 1024), 1u);  // 1500 >= 1024 > 750
  EXPECT_EQ(ReductionLevels(2500, 3000, 512), 2u);   // 750 >= 512 > 375
  EXPECT_EQ(ReductionLevels(2500, 3000, 3000), 0u);
  EXPECT_EQ(ReductionLevels(2500, 3000, 0), 0u);   // No target: whole.
  EXPECT_EQ(ReductionLevels(4097, 10, 1025), 2u);  // Halving rounds up: 2049, then 1025 >= 1025.
  EXPECT_EQ(ReductionLevels(65535, 65535, 1, 5), 5u);
}

TEST(BoxReduce, OnlyGreyscaleCellsWithValuesInTheLowBits) {
  PixelFormat f = Grey(2, 2, 16, 12, false);
  EXPECT_TRUE(CanBoxReduce(f));
  f.high_bit = 15;  // Values in the top bits.
  EXPECT_FALSE(CanBoxReduce(f));
  f.high_bit = 11;
  f.samples_per_pixel = 3;
  EXPECT_FALSE(CanBoxReduce(f));
  f.samples_per_pixel = 1;
  f.bits_allocated = 32;
  f.bits_stored = 32;
  f.high_bit = 31;
  EXPECT_FALSE(CanBoxReduce(f));
}

TEST(BoxReduce, AveragesStoredValuesMaskedAndSignExtendedWithEdgeBlocks) {
  // 3 x 5, 16-bit cells, 12 bits stored, signed; the top 4 bits carry garbage (an overlay) that
  // must not reach the average. One level: 2 x 3 out; the last column and row are half blocks.
  const PixelFormat f = Grey(3, 5, 16, 12, true);
  const int values[3][5] = {{-2048, 2047, 10, 11, -5}, {0, 1, 12, 13, -6}, {100, 101, -1, -2, 7}};
  std::vector<uint8_t> cells(f.FrameBytes());
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) {
      const uint16_t cell = static_cast<uint16_t>((values[y][x] & 0xFFF) | 0xA000);  // garbage above bit 11
      std::memcpy(&cells[(y * 5 + x) * 2], &cell, 2);
    }
  }
  const ReducedFrame r = BoxReduce({cells, f}, 1);
  ASSERT_EQ(r.format.rows, 2u);
  ASSERT_EQ(r.format.cols, 3u);
  EXPECT_EQ(r.format.bits_stored, 12);
  ASSERT_EQ(r.bytes.size(), 2u * 3u * 2u);
  auto at = [&](int y, int x) {
    int16_t v;
    std::memcpy(&v, &r.bytes[(y * 3 + x) * 2], 2);
    return v;
  };
  EXPECT_EQ(at(0, 0), 0);    // (-2048 + 2047 + 0 + 1) / 4 = 0
  EXPECT_EQ(at(0, 1), 12);   // (10 + 11 + 12 + 13) / 4 = 11.5 -> 12
  EXPECT_EQ(at(0, 2), -6);   // (-5 - 6) / 2 = -5.5 -> -6 (half away from zero)
  EXPECT_EQ(at(1, 0), 101);  // (100 + 101) / 2 = 100.5 -> 101
  EXPECT_EQ(at(1, 1), -2);   // (-1 - 2) / 2 = -1.5 -> -2
  EXPECT_EQ(at(1, 2), 7);    // a 1 x 1 block
}

TEST(BoxReduce, EightBitUnsignedTwoLevels) {
  const PixelFormat f = Grey(4, 4, 8, 8, false);
  std::vector<uint8_t> cells(16);
  for (size_t i = 0; i < 16; ++i) cells[i] = static_cast<uint8_t>(i * 16);  // 0..240
  const ReducedFrame r = BoxReduce({cells, f}, 2);
  ASSERT_EQ(r.format.rows, 1u);
  ASSERT_EQ(r.format.cols, 1u);
  EXPECT_EQ(r.bytes[0], 120);  // mean of 0, 16, ..., 240
}

}  // namespace
}  // namespace eden::imaging
