#include <gtest/gtest.h>

#include "imaging/resize.h"

namespace eden::imaging {
namespace {

TEST(Resize, KeepsAspectAndLongestSide) {
  Image8 img{3000, 2500, 1, std::vector<uint8_t>(3000 * 2500, 77)};
  Image8 out = DownscaleToFit(img, 1024);
  EXPECT_EQ(out.width, 1024u);
  EXPECT_EQ(out.height, 853u);
  for (uint8_t v : out.pixels) ASSERT_EQ(v, 77);  // A flat image stays flat: weights sum to 1.
}

TEST(Resize, SmallImagesAreUntouched) {
  Image8 img{10, 5, 3, std::vector<uint8_t>(150, 9)};
  Image8 out = DownscaleToFit(img, 64);
  EXPECT_EQ(out.width, 10u);
  EXPECT_EQ(out.pixels, img.pixels);
}

TEST(Resize, AveragesAFineCheckerboardToGrey) {
  // A 1-pixel checkerboard has no business surviving a 4x reduction (aliasing would).
  Image8 img{256, 256, 1, std::vector<uint8_t>(256 * 256)};
  for (uint32_t y = 0; y < 256; ++y)
    for (uint32_t x = 0; x < 256; ++x) img.pixels[y * 256 + x] = ((x + y) % 2) ? 255 : 0;
  Image8 out = DownscaleToFit(img, 64);
  for (uint32_t y = 4; y < 60; ++y)
    for (uint32_t x = 4; x < 60; ++x) ASSERT_NEAR(out.pixels[y * 64 + x], 128, 3);
}

}  // namespace
}  // namespace eden::imaging
