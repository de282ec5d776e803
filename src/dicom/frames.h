#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "dicom/decoder.h"
#include "imaging/types.h"

namespace eden::dicom {

/// An encapsulated Pixel Data sequence (PS3.5 A.4) as views: the Basic Offset Table's entries
/// and the fragments after it. Whoever parsed the items (the preflight, in the caller's buffer;
/// DCMTK, in its own) hands the same structure to LocateFrame.
struct EncapsulatedFrames {
  std::vector<uint32_t> offsets;                    ///< Basic Offset Table; empty if absent.
  std::vector<std::span<const uint8_t>> fragments;  ///< The items after the table.
};

/// Splits items (the first is the Basic Offset Table) into the table's offsets and the fragments.
/// Pure.
EncapsulatedFrames SplitItems(std::span<const std::span<const uint8_t>> items);

/// The compressed bytes of frame `index` of `frames`: one frame = every fragment; one fragment
/// per frame; else the fragments the Basic Offset Table assigns to it (offsets count from the
/// first fragment's item tag, 8 bytes of header per item). A frame that is one fragment comes
/// back as a view into it (no copy); otherwise the fragments are joined into `scratch`.
/// kCorruptPixelData if there are no fragments or the frame cannot be located. Pure.
Result<std::span<const uint8_t>> LocateFrame(const EncapsulatedFrames& encapsulated, uint32_t index, uint32_t frames,
                                             std::vector<uint8_t>& scratch);

/// Checks a decoded frame against its declared geometry (rows x columns x samples x bytes per
/// sample, or the 4:2:2 layout): kCorruptPixelData for an impossible layout; too few bytes is
/// kCorruptPixelData for compressed data, kTruncated for uncompressed. Renderers may then assume a
/// whole frame. Pure.
Status CheckDecodedFrame(const DecodedFrame& frame, uint32_t index, bool encapsulated);

/// Frame `index` of uncompressed pixel data `data` (all frames end to end): a view for little
/// endian, a byte-swapped copy for big endian OW (16-bit words, then 32-bit halves). kTruncated if
/// `data` is shorter than the frame. Pure.
Result<DecodedFrame> NativeFrame(std::span<const uint8_t> data, const imaging::PixelFormat& format,
                                 imaging::Photometric photometric, bool big_endian_ow, uint32_t index);

/// Frame `index` of 1-bit pixel data (frames packed end to end, least significant bit first,
/// PS3.5 8.1.1), unpacked to a byte per pixel (0 or 1). Pure.
Result<DecodedFrame> UnpackBitFrame(std::span<const uint8_t> data, const imaging::PixelFormat& format,
                                    imaging::Photometric photometric, uint32_t index);

}  // namespace eden::dicom
