#pragma once

#include "imaging/types.h"

namespace eden::imaging {

/// True if the window can be applied: LINEAR needs width >= 1, LINEAR_EXACT and SIGMOID need
/// width > 0 (PS3.3 C.11.2.1.2). Real files carry width 0; those are treated as absent.
bool IsUsableWindow(const Window& w);

/// Applies a VOI window to a modality value, giving an output in [0, 255] (PS3.3 C.11.2.1.2,
/// y_min = 0, y_max = 255). Precondition: IsUsableWindow(w).
double ApplyWindow(const Window& w, double x);

/// The window that maps [min_value, max_value] exactly onto [0, 255] (LINEAR_EXACT), used when
/// a file has no VOI of its own ("auto window"). A flat range maps every value to 0.
Window MinMaxWindow(double min_value, double max_value);

}  // namespace eden::imaging
