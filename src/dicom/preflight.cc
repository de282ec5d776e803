#include "dicom/preflight.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "dicom/decoder.h"

namespace eden::dicom {
namespace {

constexpr uint32_t kUndefined = 0xFFFFFFFFu;
constexpr uint16_t kItemGroup = 0xFFFE;
constexpr uint16_t kItem = 0xE000;
constexpr uint16_t kItemDelimiter = 0xE00D;
constexpr uint16_t kSequenceDelimiter = 0xE0DD;

struct Encoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

bool IsUpper(uint8_t c) { return c >= 'A' && c <= 'Z'; }

bool HasLongLength(const uint8_t* vr) {
  static constexpr std::string_view kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                               "SV", "UC", "UN", "UR", "UT", "UV"};
  const std::string_view v(reinterpret_cast<const char*>(vr), 2);
  for (auto l : kLong) {
    if (v == l) return true;
  }
  return false;
}

class Walker {
 public:
  Walker(std::span<const uint8_t> bytes, int max_depth) : b_(bytes), max_depth_(max_depth) {}

  uint16_t U16(size_t at, bool be) const {
    return be ? static_cast<uint16_t>((b_[at] << 8) | b_[at + 1]) : static_cast<uint16_t>(b_[at] | (b_[at + 1] << 8));
  }
  uint32_t U32(size_t at, bool be) const {
    return be ? (uint32_t{b_[at]} << 24) | (uint32_t{b_[at + 1]} << 16) | (uint32_t{b_[at + 2]} << 8) | b_[at + 3]
              : uint32_t{b_[at]} | (uint32_t{b_[at + 1]} << 8) | (uint32_t{b_[at + 2]} << 16) |
                    (uint32_t{b_[at + 3]} << 24);
  }

  tl::unexpected<Error> Truncated(size_t at, uint16_t g, uint16_t e, uint64_t length) const {
    return Fail(ErrorCode::kTruncated, fmt::format("element ({:04X},{:04X}) at byte {} declares {} bytes, {} remain", g,
                                                   e, at, length, b_.size() - std::min(b_.size(), at)));
  }

  /// Walks elements in [pos, end) until `end` or, for an undefined-length item, its delimiter.
  /// Returns the position after the last element (after the delimiter, if one was read).
  Result<size_t> WalkDataSet(size_t pos, size_t end, Encoding enc, int depth, bool until_item_delimiter) {
    if (depth > max_depth_)
      return Fail(ErrorCode::kMalformed, fmt::format("sequences nested deeper than {}", max_depth_));
    while (pos < end) {
      if (end - pos < 8) {
        return Fail(ErrorCode::kTruncated, fmt::format("{} stray bytes at the end of the data set", end - pos));
      }
      const uint16_t group = U16(pos, enc.big_endian);
      const uint16_t element = U16(pos + 2, enc.big_endian);
      if (group == kItemGroup) {
        const uint32_t length = U32(pos + 4, enc.big_endian);
        pos += 8;
        if (element == kItemDelimiter && until_item_delimiter) return pos;
        if (element == kItemDelimiter || element == kSequenceDelimiter) continue;  // Stray: DCMTK skips it.
        if (length != kUndefined) pos += std::min<size_t>(length, b_.size() - pos);
        continue;
      }
      uint64_t length;
      bool is_sequence = false;
      bool is_unknown = false;
      size_t header;
      if (enc.explicit_vr && depth == 0 && group == 0x0000 && !(IsUpper(b_[pos + 4]) && IsUpper(b_[pos + 5]))) {
        // A command-group element left in a stored data set, written implicit VR as the command
        // set always is (pydicom does this): no reader needs it; the decoder drops it.
        const uint32_t command_length = U32(pos + 4, enc.big_endian);
        if (command_length > b_.size() - pos - 8) return Truncated(pos, group, element, command_length);
        strip_.emplace_back(pos, size_t{8} + command_length);
        pos += size_t{8} + command_length;
        continue;
      }
      if (enc.explicit_vr) {
        const uint8_t* vr = &b_[pos + 4];
        if (!IsUpper(vr[0]) || !IsUpper(vr[1])) {
          return Fail(ErrorCode::kMalformed,
                      fmt::format("element ({:04X},{:04X}) at byte {} has no VR in an explicit-VR data set "
                                  "(the file header declares the wrong transfer syntax)",
                                  group, element, pos));
        }
        is_sequence = vr[0] == 'S' && vr[1] == 'Q';
        if (HasLongLength(vr)) {
          if (end - pos < 12) return Truncated(pos, group, element, 12);
          length = U32(pos + 8, enc.big_endian);
          header = 12;
        } else {
          length = U16(pos + 6, enc.big_endian);
          header = 8;
        }
        is_unknown = vr[0] == 'U' && vr[1] == 'N';
      } else {
        length = U32(pos + 4, enc.big_endian);
        header = 8;
      }
      pos += header;
      if (depth == 0 && group == 0x7FE0 && element == 0x0010) {
        // Pixel data is read from where this says it lies: it must lie inside the input,
        // whatever its VR (an "SQ" pixel data element would otherwise skip the check below).
        if (length != kUndefined && length > b_.size() - pos) return Truncated(pos - header, group, element, length);
        const bool ow = enc.explicit_vr ? (b_[pos - header + 4] == 'O' && b_[pos - header + 5] == 'W') : true;
        pixel_data_ = PixelDataLocation{pos, length, ow, {}};
      }
      if (length == kUndefined) {
        // Sequence or encapsulated pixel data: items until the sequence delimiter.
        // CP-246: an undefined-length UN sequence is encoded implicit VR little endian.
        Encoding inner = enc;
        if (is_unknown) inner = Encoding{false, false};
        const bool fragments = group == 0x7FE0 && element == 0x0010;
        recording_ = fragments && depth == 0 ? &pixel_data_->items : nullptr;
        auto next = WalkItems(pos, end, inner, depth + 1, kUndefined, fragments);
        recording_ = nullptr;
        if (!next) return Fail(next.error());
        pos = *next;
        continue;
      }
      const bool looks_like_items = length >= 8 && length <= b_.size() - pos &&
                                    U16(pos, enc.big_endian) == kItemGroup && U16(pos + 2, enc.big_endian) == kItem;
      if (is_sequence || (!enc.explicit_vr && looks_like_items)) {
        auto next = WalkItems(pos, std::min<size_t>(pos + length, b_.size()), enc, depth + 1,
                              static_cast<uint32_t>(length), false);
        if (!next) return Fail(next.error());
        pos += std::min<size_t>(length, b_.size() - pos);
        continue;
      }
      if (length > b_.size() - pos) return Truncated(pos - header, group, element, length);
      pos += length;
    }
    if (until_item_delimiter) {
      return Fail(ErrorCode::kTruncated, "data ends inside an item (no item delimiter)");
    }
    return pos;
  }

  /// Walks the items of a sequence (or fragments of encapsulated pixel data) that starts at
  /// `pos`; `length` is the sequence's defined length or kUndefined.
  Result<size_t> WalkItems(size_t pos, size_t end, Encoding enc, int depth, uint32_t length, bool fragments) {
    if (depth > max_depth_)
      return Fail(ErrorCode::kMalformed, fmt::format("sequences nested deeper than {}", max_depth_));
    while (pos < end) {
      if (end - pos < 8) return Fail(ErrorCode::kTruncated, "sequence ends inside an item header");
      const uint16_t group = U16(pos, enc.big_endian);
      const uint16_t element = U16(pos + 2, enc.big_endian);
      const uint32_t item_length = U32(pos + 4, enc.big_endian);
      if (group != kItemGroup) {
        if (length == kUndefined) {
          return Fail(
              ErrorCode::kMalformed,
              fmt::format("({:04X},{:04X}) at byte {} where a sequence item was expected", group, element, pos));
        }
        return end;  // Defined-length content that is not items: leave it to the parser.
      }
      pos += 8;
      if (element == kSequenceDelimiter) return pos;
      if (element != kItem) continue;
      if (item_length == kUndefined) {
        auto next = WalkDataSet(pos, end, enc, depth + 1, true);
        if (!next) return Fail(next.error());
        pos = *next;
        continue;
      }
      if (recording_ != nullptr) {
        recording_->emplace_back(pos, std::min<size_t>(item_length, b_.size() - pos));
      }
      // Container lengths drive no allocation: an item that overruns the input is read up to
      // the end (as DCMTK does); only the values inside it must fit. Pixel data fragments hold
      // codestreams, not elements.
      if (!fragments) {
        auto inner = WalkDataSet(pos, std::min<size_t>(pos + item_length, b_.size()), enc, depth + 1, false);
        if (!inner) return Fail(inner.error());
      }
      pos += std::min<size_t>(item_length, b_.size() - pos);
    }
    if (length == kUndefined) return Fail(ErrorCode::kTruncated, "data ends inside a sequence (no delimiter)");
    return pos;
  }

  const std::optional<PixelDataLocation>& pixel_data() const { return pixel_data_; }
  const std::vector<std::pair<size_t, size_t>>& strip() const { return strip_; }

 private:
  std::span<const uint8_t> b_;
  int max_depth_;
  std::optional<PixelDataLocation> pixel_data_;
  std::vector<std::pair<size_t, size_t>> strip_;
  std::vector<std::pair<size_t, size_t>>* recording_ = nullptr;  ///< Top-level fragments go here.
};

}  // namespace

Result<PreflightInfo> PreflightCheck(std::span<const uint8_t> bytes, int max_depth) {
  Walker walker(bytes, max_depth);
  size_t pos = 0;
  Encoding enc;
  std::string transfer_syntax;
  if (LooksLikePart10(bytes)) {
    pos = 132;
    // File meta information: group 0002, always explicit VR little endian.
    while (pos + 8 <= bytes.size() && walker.U16(pos, false) == 0x0002) {
      const uint8_t* vr = &bytes[pos + 4];
      const bool long_length = HasLongLength(vr);
      const size_t header = long_length ? 12 : 8;
      if (pos + header > bytes.size()) return Fail(ErrorCode::kTruncated, "file ends inside the meta header");
      const uint32_t length = long_length ? walker.U32(pos + 8, false) : walker.U16(pos + 6, false);
      if (length > bytes.size() - pos - header)
        return walker.Truncated(pos, 0x0002, walker.U16(pos + 2, false), length);
      if (walker.U16(pos + 2, false) == 0x0010) {
        transfer_syntax.assign(reinterpret_cast<const char*>(&bytes[pos + header]), length);
        while (!transfer_syntax.empty() && (transfer_syntax.back() == '\0' || transfer_syntax.back() == ' ')) {
          transfer_syntax.pop_back();
        }
      }
      pos += header + length;
    }
    if (transfer_syntax == "1.2.840.10008.1.2.1.99")
      return PreflightInfo{transfer_syntax, true, false, true, std::nullopt, {}};
    enc.explicit_vr = transfer_syntax != "1.2.840.10008.1.2";
    enc.big_endian = transfer_syntax == "1.2.840.10008.1.2.2";
    if (transfer_syntax.empty() && pos + 6 <= bytes.size()) {
      enc.explicit_vr = IsUpper(bytes[pos + 4]) && IsUpper(bytes[pos + 5]);  // No TS: guess as DCMTK does.
    }
  } else {
    // A bare data set: explicit or implicit VR by whether a VR follows the first tag; little
    // endian unless that fails and big endian walks.
    if (bytes.size() < 8) return Fail(ErrorCode::kNotDicom, "too short for DICOM");
    enc.explicit_vr = IsUpper(bytes[4]) && IsUpper(bytes[5]);
    auto little = walker.WalkDataSet(0, bytes.size(), enc, 0, false);
    if (little) return PreflightInfo{{}, enc.explicit_vr, false, false, walker.pixel_data(), walker.strip()};
    enc.big_endian = true;
    Walker big_walker(bytes, max_depth);
    if (big_walker.WalkDataSet(0, bytes.size(), enc, 0, false)) {
      return PreflightInfo{{}, enc.explicit_vr, true, false, big_walker.pixel_data(), big_walker.strip()};
    }
    return Fail(little.error());
  }
  auto walked = walker.WalkDataSet(pos, bytes.size(), enc, 0, false);
  if (!walked) return Fail(walked.error());
  return PreflightInfo{transfer_syntax, enc.explicit_vr, enc.big_endian, false, walker.pixel_data(), walker.strip()};
}

}  // namespace eden::dicom
