// The encoder, checked by decoding its output with libjpeg-turbo's decoder.
#include <cmath>
#include <span>

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include "jpeg/turbojpeg_encoder.h"

namespace eden::jpeg {
namespace {

struct Decoded {
  int width = 0, height = 0, subsampling = -1;
  std::vector<uint8_t> pixels;
};

Decoded Decode(const std::vector<uint8_t>& jpeg, int channels) {
  Decoded d;
  tjhandle h = tjInitDecompress();
  int colourspace = 0;
  tjDecompressHeader3(h, jpeg.data(), jpeg.size(), &d.width, &d.height, &d.subsampling, &colourspace);
  d.pixels.resize(static_cast<size_t>(d.width) * d.height * channels);
  tjDecompress2(h, jpeg.data(), jpeg.size(), d.pixels.data(), d.width, 0, d.height,
                channels == 1 ? TJPF_GRAY : TJPF_RGB, 0);
  tjDestroy(h);
  return d;
}

imaging::Image8 Gradient(uint32_t w, uint32_t h, uint8_t channels) {
  imaging::Image8 img{w, h, channels, Bytes(size_t{w} * h * channels)};
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      for (uint8_t c = 0; c < channels; ++c)
        img.pixels[(size_t{y} * w + x) * channels + c] = static_cast<uint8_t>((x * 3 + y * 2 + c * 50) % 256);
  return img;
}

double Psnr(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  double mse = 0;
  for (size_t i = 0; i < a.size(); ++i) mse += (a[i] - b[i]) * (a[i] - b[i]);
  mse /= static_cast<double>(a.size());
  return mse == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

TEST(TurboJpegEncoder, GreyRoundTripAtQuality100IsNearLossless) {
  auto enc = MakeTurboJpegEncoder();
  auto img = Gradient(64, 48, 1);
  auto jpeg = enc->Encode(img, {100});
  ASSERT_TRUE(jpeg.has_value());
  auto d = Decode(*jpeg, 1);
  EXPECT_EQ(d.width, 64);
  EXPECT_EQ(d.height, 48);
  EXPECT_EQ(d.subsampling, TJSAMP_GRAY);
  EXPECT_GT(Psnr(d.pixels, img.pixels), 45.0);
}

TEST(TurboJpegEncoder, ColourAtHighQualityKeepsFullChroma) {
  auto enc = MakeTurboJpegEncoder();
  auto img = Gradient(32, 32, 3);
  auto hi = enc->Encode(img, {95});
  auto lo = enc->Encode(img, {50});
  ASSERT_TRUE(hi && lo);
  EXPECT_EQ(Decode(*hi, 3).subsampling, TJSAMP_444);
  EXPECT_EQ(Decode(*lo, 3).subsampling, TJSAMP_420);
  EXPECT_LT(lo->size(), hi->size());
}

TEST(TurboJpegEncoder, RejectsBadQualityAndEmptyImages) {
  auto enc = MakeTurboJpegEncoder();
  EXPECT_FALSE(enc->Encode(Gradient(8, 8, 1), {0}).has_value());
  EXPECT_FALSE(enc->Encode(Gradient(8, 8, 1), {101}).has_value());
  EXPECT_FALSE(enc->Encode(imaging::Image8{}, {90}).has_value());
  imaging::Image8 short_buffer{8, 8, 1, Bytes(10)};
  EXPECT_FALSE(enc->Encode(short_buffer, {90}).has_value());
}

}  // namespace
}  // namespace eden::jpeg
