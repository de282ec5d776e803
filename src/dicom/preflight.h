#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eden::dicom {

/// Where the top-level Pixel Data element's value lies in the input, and how it is encoded.
struct PixelDataLocation {
  size_t offset = 0;    ///< First byte of the value.
  uint64_t length = 0;  ///< Value length; 0xFFFFFFFF for encapsulated data.
  bool vr_ow = false;   ///< VR OW (16-bit words: swapped in big endian); else OB.
  /// Encapsulated data: the items' values in order (item 0 is the Basic Offset Table), as
  /// (offset, length) in the input. Empty for native data.
  std::vector<std::pair<size_t, size_t>> items;
};

/// What the walk learned about the data set's encoding.
struct PreflightInfo {
  std::string transfer_syntax;  ///< From the meta header; empty for a bare data set.
  bool explicit_vr = true;
  bool big_endian = false;
  bool deflated = false;                        ///< Deflated data set: nothing after the meta header was walked.
  std::optional<PixelDataLocation> pixel_data;  ///< Top level only (not icon images).
  /// Byte ranges (offset, length) of top-level elements no parser should see: command-group
  /// (0000,xxxx) elements written implicit VR inside an explicit-VR data set.
  std::vector<std::pair<size_t, size_t>> strip;
};

/// Walks the element structure of DICOM bytes (meta group, data set, nested sequences and
/// items, encapsulated fragments) without decoding any value, and checks that every declared
/// length fits in the bytes that remain. DCMTK allocates a value's declared length before
/// reading it, so this check is what bounds memory on hostile input by the input's size.
/// kTruncated: a length runs past the end. kMalformed: impossible structure (a meta header
/// that says explicit VR over an implicit-VR data set, nesting deeper than `max_depth`).
/// Deflated data sets are checked up to the deflated part only.
/// @par Thread-safety Pure function.
Result<PreflightInfo> PreflightCheck(std::span<const uint8_t> bytes, int max_depth = 32);

}  // namespace eden::dicom
