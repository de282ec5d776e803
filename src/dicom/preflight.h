#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"

namespace eden::dicom {

/// Walks the element structure of DICOM bytes (meta group, data set, nested sequences and
/// items, encapsulated fragments) without decoding any value, and checks that every declared
/// length fits in the bytes that remain. DCMTK allocates a value's declared length before
/// reading it, so this check is what bounds memory on hostile input by the input's size.
/// kTruncated: a length runs past the end. kMalformed: impossible structure (a meta header
/// that says explicit VR over an implicit-VR data set, nesting deeper than `max_depth`).
/// Deflated data sets are checked up to the deflated part only.
/// @par Thread-safety Pure function.
Status PreflightCheck(std::span<const uint8_t> bytes, int max_depth = 32);

}  // namespace eden::dicom
