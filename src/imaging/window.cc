#include "imaging/window.h"

#include <algorithm>
#include <cmath>

namespace eden::imaging {

bool IsUsableWindow(const Window& w) {
  if (!std::isfinite(w.center) || !std::isfinite(w.width)) return false;
  return w.function == VoiFunction::kLinear ? w.width >= 1.0 : w.width > 0.0;
}

double ApplyWindow(const Window& w, double x) {
  constexpr double kYMin = 0.0;
  constexpr double kYMax = 255.0;
  const double c = w.center;
  const double width = w.width;
  switch (w.function) {
    case VoiFunction::kLinear: {
      // PS3.3 C.11.2.1.2.1: the -0.5 and (w-1) terms place integer inputs at pixel centres.
      if (x <= c - 0.5 - (width - 1) / 2) return kYMin;
      if (x > c - 0.5 + (width - 1) / 2) return kYMax;
      if (width == 1.0) return kYMax;  // Degenerate: the range above collapses to one step.
      return ((x - (c - 0.5)) / (width - 1) + 0.5) * (kYMax - kYMin) + kYMin;
    }
    case VoiFunction::kLinearExact: {
      // PS3.3 C.11.2.1.3.2.
      if (x <= c - width / 2) return kYMin;
      if (x > c + width / 2) return kYMax;
      return ((x - c) / width + 0.5) * (kYMax - kYMin) + kYMin;
    }
    case VoiFunction::kSigmoid:
      // PS3.3 C.11.2.1.3.1.
      return (kYMax - kYMin) / (1.0 + std::exp(-4.0 * (x - c) / width)) + kYMin;
  }
  return kYMin;
}

Window MinMaxWindow(double min_value, double max_value) {
  // LINEAR_EXACT with c = (min+max)/2, w = max-min sends min to 0 and max to 255.
  return Window{(min_value + max_value) / 2.0, max_value - min_value, VoiFunction::kLinearExact};
}

}  // namespace eden::imaging
