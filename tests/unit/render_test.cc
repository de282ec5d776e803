#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "imaging/render.h"

namespace eden::imaging {
namespace {

/// A greyscale frame of 16-bit cells holding `values` (little endian), one row.
struct Grey16 {
  std::vector<uint8_t> bytes;
  PixelFormat format;

  Grey16(std::vector<int32_t> values, uint16_t bits_stored = 16, bool is_signed = false) {
    format = {1,           static_cast<uint32_t>(values.size()),   1,         16,
              bits_stored, static_cast<uint16_t>(bits_stored - 1), is_signed, false};
    for (int32_t v : values) {
      const auto cell = static_cast<uint16_t>(v);
      bytes.push_back(static_cast<uint8_t>(cell & 0xFF));
      bytes.push_back(static_cast<uint8_t>(cell >> 8));
    }
  }
  FrameView View() const { return {bytes, format}; }
};

Image8 MustRender(const FrameView& f, const DisplayAttributes& a, const RenderOptions& o = {},
                  RenderInfo* info = nullptr) {
  auto r = RenderFrame(f, a, o, info);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r ? *r : Image8{};
}

TEST(Render, MimicIgnoresWindowsAndRescaleMasksBitsStoredAndEqualises) {
  // 12 bits stored: the bit above (0x1000) is not part of the value. Values 0..3 min-max to
  // 0, 85, 170, 255; each grey level holds one pixel, so equalisation keeps them.
  Grey16 f({0x1000 | 0, 1, 2, 3}, 12);
  DisplayAttributes a;
  a.windows = {{1, 1, VoiFunction::kLinear}};  // Ignored.
  a.rescale_slope = 100;                       // Ignored: stored values, no Modality LUT.
  RenderOptions o;
  o.mode = RenderMode::kMimic;
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, o, &info);
  EXPECT_EQ(img.pixels, (Bytes{0, 85, 170, 255}));
  EXPECT_EQ(info.source, VoiSource::kMimic);
  // Skewed histogram: three pixels at the bottom, one at the top -> equalised to 0 and 255, and
  // MONOCHROME1 inverts before equalising.
  Grey16 g({10, 10, 10, 20});
  EXPECT_EQ(MustRender(g.View(), {}, o).pixels, (Bytes{0, 0, 0, 255}));
  a = {};
  a.photometric = Photometric::kMonochrome1;
  Grey16 h({10, 20, 20, 20});
  EXPECT_EQ(MustRender(h.View(), a, o).pixels, (Bytes{255, 0, 0, 0}));
  // One grey level: left as it is, no division by zero.
  Grey16 flat({7, 7});
  EXPECT_EQ(MustRender(flat.View(), {}, o).pixels, (Bytes{0, 0}));
}

TEST(Render, FileWindowWinsAndIsReported) {
  Grey16 f({0, 40, 80, 1000});
  DisplayAttributes a;
  a.windows = {{40, 81, VoiFunction::kLinear}};
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, {}, &info);
  EXPECT_EQ(info.source, VoiSource::kFileWindow);
  // LINEAR 40/81: y = ((x - 39.5) / 80 + 0.5) * 255 inside (-0.5, 79.5].
  EXPECT_EQ(img.pixels[0], 2);    // 1.59
  EXPECT_EQ(img.pixels[1], 129);  // 129.06
  EXPECT_EQ(img.pixels[2], 255);  // 80 > 79.5
  EXPECT_EQ(img.pixels[3], 255);
}

TEST(Render, RescaleAppliesBeforeWindow) {
  // Stored 1024 with intercept -1024 is 0 HU: the centre of a 0/100 window.
  Grey16 f({1024, 974, 1074});
  DisplayAttributes a;
  a.rescale_intercept = -1024;
  a.windows = {{0, 100, VoiFunction::kLinearExact}};
  Image8 img = MustRender(f.View(), a);
  EXPECT_NEAR(img.pixels[0], 128, 1);
  EXPECT_EQ(img.pixels[1], 0);
  EXPECT_EQ(img.pixels[2], 255);
}

TEST(Render, Monochrome1IsInverted) {
  Grey16 f({0, 100});
  DisplayAttributes a;
  a.photometric = Photometric::kMonochrome1;
  Image8 img = MustRender(f.View(), a);
  EXPECT_EQ(img.pixels[0], 255);
  EXPECT_EQ(img.pixels[1], 0);
}

TEST(Render, MinMaxExcludesPixelPadding) {
  // Padding -2000 would otherwise stretch the window; with it excluded 0..100 spans 0..255.
  Grey16 f({-2000, 0, 100}, 16, true);
  DisplayAttributes a;
  a.padding_value = -2000;
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, {}, &info);
  EXPECT_EQ(info.source, VoiSource::kMinMax);
  EXPECT_EQ(img.pixels[1], 0);
  EXPECT_EQ(img.pixels[2], 255);
}

TEST(Render, PaddingRangeLimitExcludesARange) {
  Grey16 f({0, 5, 10, 100, 200});
  DisplayAttributes a;
  a.padding_value = 10;
  a.padding_range_limit = 0;
  Image8 img = MustRender(f.View(), a);
  EXPECT_EQ(img.pixels[3], 0);
  EXPECT_EQ(img.pixels[4], 255);
}

TEST(Render, SignedTwelveBitIgnoresBitsAboveHighBit) {
  // 12 bits stored in 16: the top nibble holds overlay bits and must be masked; 0xFFF is -1.
  Grey16 f({0xF000 | 0x0FFF, 0x07FF}, 12, true);
  DisplayAttributes a;
  a.windows = {{1023, 2048, VoiFunction::kLinearExact}};
  Image8 img = MustRender(f.View(), a);
  EXPECT_NEAR(img.pixels[0], 0, 0);  // -1 is the window's bottom edge.
  EXPECT_EQ(img.pixels[1], 255);
}

TEST(Render, WidthZeroFallsBackToMinMax) {
  Grey16 f({10, 20});
  DisplayAttributes a;
  a.windows = {{15, 0, VoiFunction::kLinear}};
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, {}, &info);
  EXPECT_EQ(info.source, VoiSource::kMinMax);
  EXPECT_EQ(img.pixels[0], 0);
  EXPECT_EQ(img.pixels[1], 255);
}

TEST(Render, NoAutoWindowUsesFullStoredRange) {
  Grey16 f({0, 4095}, 12);
  DisplayAttributes a;
  RenderOptions o;
  o.auto_window = false;
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, o, &info);
  EXPECT_EQ(info.source, VoiSource::kFullRange);
  EXPECT_EQ(img.pixels[0], 0);
  EXPECT_EQ(img.pixels[1], 255);
}

TEST(Render, UserWindowOverridesFile) {
  Grey16 f({0, 50, 100});
  DisplayAttributes a;
  a.windows = {{1000, 10, VoiFunction::kLinear}};
  RenderOptions o;
  o.window = Window{50, 101, VoiFunction::kLinearExact};
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, o, &info);
  EXPECT_EQ(info.source, VoiSource::kUserWindow);
  EXPECT_NEAR(img.pixels[1], 128, 1);
}

TEST(Render, VoiIndexSelectsSecondWindowThenLut) {
  Grey16 f({0, 10});
  DisplayAttributes a;
  a.windows = {{1000, 10, VoiFunction::kLinear}, {5, 11, VoiFunction::kLinearExact}};
  Lut lut;
  lut.first_mapped = 0;
  lut.bits = 8;
  lut.data = {255, 128, 0};
  a.voi_luts = {lut};
  RenderOptions o;
  o.voi_index = 1;
  RenderInfo info;
  Image8 img = MustRender(f.View(), a, o, &info);
  EXPECT_EQ(info.source, VoiSource::kFileWindow);
  EXPECT_EQ(img.pixels[1], 243);  // LINEAR_EXACT 5/11 at 10: ((10 - 5) / 11 + 0.5) * 255 = 243.4.
  o.voi_index = 2;
  img = MustRender(f.View(), a, o, &info);
  EXPECT_EQ(info.source, VoiSource::kFileVoiLut);
  EXPECT_EQ(img.pixels[0], 255);  // LUT entry 0 is 255 of 255.
  EXPECT_EQ(img.pixels[1], 0);    // Past the last entry: the last entry.
  o.voi_index = 3;
  auto bad = RenderFrame(f.View(), a, o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST(Render, ModalityLutReplacesRescale) {
  Grey16 f({0, 1, 2});
  DisplayAttributes a;
  a.rescale_slope = 1000;  // Must be ignored: the LUT wins.
  Lut lut;
  lut.first_mapped = 0;
  lut.bits = 16;
  lut.data = {100, 300, 200};
  a.modality_lut = lut;
  Image8 img = MustRender(f.View(), a);  // Min-max over 100..300.
  EXPECT_EQ(img.pixels[0], 0);
  EXPECT_EQ(img.pixels[1], 255);
  EXPECT_NEAR(img.pixels[2], 128, 1);
}

TEST(Render, ThirtyTwoBitUsesGeneralPath) {
  std::vector<uint8_t> bytes(12);
  const uint32_t values[3] = {0, 2000000000u, 4000000000u};
  std::memcpy(bytes.data(), values, 12);
  PixelFormat f{1, 3, 1, 32, 32, 31, false, false};
  Image8 img = MustRender({bytes, f}, DisplayAttributes{});
  EXPECT_EQ(img.pixels[0], 0);
  EXPECT_EQ(img.pixels[1], 128);
  EXPECT_EQ(img.pixels[2], 255);
}

TEST(Render, TruncatedFrameIsAnError) {
  Grey16 f({1, 2, 3});
  FrameView v = f.View();
  v.bytes = v.bytes.subspan(0, 4);
  auto r = RenderFrame(v, DisplayAttributes{}, RenderOptions{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
}

TEST(Render, InconsistentBitsAreMalformed) {
  Grey16 f({1});
  f.format.high_bit = 3;  // 16 bits stored cannot end at bit 3.
  auto r = RenderFrame(f.View(), DisplayAttributes{}, RenderOptions{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
}

TEST(Render, YbrFullConvertsToRgb) {
  // Y=128, Cb=128, Cr=255: pure red-ish, R = 128 + 1.402 * 127.
  std::vector<uint8_t> bytes = {128, 128, 255};
  PixelFormat f{1, 1, 3, 8, 8, 7, false, false};
  DisplayAttributes a;
  a.photometric = Photometric::kYbrFull;
  Image8 img = MustRender({bytes, f}, a);
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels[0], 255);
  EXPECT_EQ(img.pixels[1], static_cast<int>(128 - 0.714136 * 127 + 0.5));
  EXPECT_EQ(img.pixels[2], 128);
}

TEST(Render, YbrFull422UncompressedLayout) {
  // Two pixels stored as Y1 Y2 Cb Cr with neutral chroma: grey 10 and grey 200.
  std::vector<uint8_t> bytes = {10, 200, 128, 128};
  PixelFormat f{1, 2, 3, 8, 8, 7, false, false};
  DisplayAttributes a;
  a.photometric = Photometric::kYbrFull422;
  Image8 img = MustRender({bytes, f}, a);
  EXPECT_EQ(img.pixels, (Bytes{10, 10, 10, 200, 200, 200}));
}

TEST(Render, PlanarRgbIsInterleaved) {
  std::vector<uint8_t> bytes = {1, 2, 10, 20, 100, 200};  // RR GG BB
  PixelFormat f{1, 2, 3, 8, 8, 7, false, true};
  DisplayAttributes a;
  a.photometric = Photometric::kRgb;
  Image8 img = MustRender({bytes, f}, a);
  EXPECT_EQ(img.pixels, (Bytes{1, 10, 100, 2, 20, 200}));
}

TEST(Render, SixteenBitRgbScalesToEightBits) {
  std::vector<uint8_t> bytes = {0xFF, 0xFF, 0, 0, 0x80, 0x80};
  PixelFormat f{1, 1, 3, 16, 16, 15, false, false};
  DisplayAttributes a;
  a.photometric = Photometric::kRgb;
  Image8 img = MustRender({bytes, f}, a);
  EXPECT_EQ(img.pixels, (Bytes{255, 0, 128}));
}

TEST(Render, PaletteColourLooksUpEachChannel) {
  std::vector<uint8_t> bytes = {0, 1};
  PixelFormat f{1, 2, 1, 8, 8, 7, false, false};
  DisplayAttributes a;
  a.photometric = Photometric::kPaletteColor;
  Lut r{0, 16, {0xFFFF, 0}}, g{0, 16, {0, 0xFFFF}}, b{0, 8, {0, 128}};
  a.palette_red = r;
  a.palette_green = g;
  a.palette_blue = b;
  Image8 img = MustRender({bytes, f}, a);
  EXPECT_EQ(img.pixels, (Bytes{255, 0, 0, 0, 255, 128}));
}

TEST(Render, PaletteWithoutTablesIsMalformed) {
  std::vector<uint8_t> bytes = {0};
  PixelFormat f{1, 1, 1, 8, 8, 7, false, false};
  DisplayAttributes a;
  a.photometric = Photometric::kPaletteColor;
  auto r = RenderFrame({bytes, f}, a, RenderOptions{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace eden::imaging
