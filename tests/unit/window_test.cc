// The VOI window functions against the worked examples of DICOM PS3.3 C.11.2.1.2.1 (LINEAR)
// and the formulas of C.11.2.1.3 (LINEAR_EXACT, SIGMOID), output range 0..255.
#include <cmath>

#include <gtest/gtest.h>

#include "imaging/window.h"

namespace eden::imaging {
namespace {

using VF = VoiFunction;

TEST(Window, LinearC2048W4096MatchesStandardExample) {
  const Window w{2048, 4096, VF::kLinear};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 0), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, -100), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 4096), 255.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 4095), ((4095 - 2047.5) / 4095 + 0.5) * 255);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 1), ((1 - 2047.5) / 4095 + 0.5) * 255);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 2047.5), 127.5);
}

TEST(Window, LinearC2048W1IsAStep) {
  const Window w{2048, 1, VF::kLinear};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 2047.5), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 2047), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 2048), 255.0);
}

TEST(Window, LinearC0W100MatchesStandardExample) {
  const Window w{0, 100, VF::kLinear};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, -50), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 50), 255.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 49), ((49 + 0.5) / 99 + 0.5) * 255);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 0), ((0 + 0.5) / 99 + 0.5) * 255);
}

TEST(Window, LinearC0W1SplitsAtMinusHalf) {
  const Window w{0, 1, VF::kLinear};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, -0.5), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, -0.4), 255.0);
}

TEST(Window, LinearExactMapsEdgesExactly) {
  const Window w{100, 200, VF::kLinearExact};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 0), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 200), 255.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 201), 255.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 100), 127.5);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 150), 191.25);
}

TEST(Window, SigmoidIsHalfAtCentreAndSymmetric) {
  const Window w{40, 400, VF::kSigmoid};
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 40), 127.5);
  EXPECT_NEAR(ApplyWindow(w, 240), 255.0 / (1.0 + std::exp(-2.0)), 1e-9);
  EXPECT_NEAR(ApplyWindow(w, 240) + ApplyWindow(w, -160), 255.0, 1e-9);
}

TEST(Window, ZeroOrNegativeWidthIsUnusable) {
  EXPECT_FALSE(IsUsableWindow({40, 0, VF::kLinear}));
  EXPECT_FALSE(IsUsableWindow({40, 0.5, VF::kLinear}));
  EXPECT_TRUE(IsUsableWindow({40, 0.5, VF::kLinearExact}));
  EXPECT_FALSE(IsUsableWindow({40, -3, VF::kSigmoid}));
  EXPECT_FALSE(IsUsableWindow({NAN, 10, VF::kLinear}));
}

TEST(Window, MinMaxWindowSpansTheRange) {
  const Window w = MinMaxWindow(-1000, 3000);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, -1000), 0.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 3000), 255.0);
  EXPECT_DOUBLE_EQ(ApplyWindow(w, 1000), 127.5);
}

TEST(Window, ParsesVoiFunctionNames) {
  EXPECT_EQ(ParseVoiFunction("LINEAR_EXACT"), VF::kLinearExact);
  EXPECT_EQ(ParseVoiFunction("sigmoid "), VF::kSigmoid);
  EXPECT_EQ(ParseVoiFunction("LINEAR"), VF::kLinear);
  EXPECT_FALSE(ParseVoiFunction("GAMMA").has_value());
}

}  // namespace
}  // namespace eden::imaging
