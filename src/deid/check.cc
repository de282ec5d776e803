#include "deid/check.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace eden::deid {

std::vector<std::string> FindIdentifiers(std::span<const uint8_t> bytes, const std::vector<std::string>& identifiers) {
  std::vector<std::string> found;
  if (identifiers.empty()) return found;
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  // Lower-cased once; each identifier is then one memchr/memcmp search (thousands of them over a
  // dataset stay fast).
  std::string haystack(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::transform(haystack.begin(), haystack.end(), haystack.begin(), lower);
  std::string needle;
  for (size_t line = 0; line < identifiers.size(); ++line) {
    const std::string& id = identifiers[line];
    if (id.size() < 3) continue;
    needle.resize(id.size());
    std::transform(id.begin(), id.end(), needle.begin(), lower);
    if (const size_t at = haystack.find(needle); at != std::string::npos) {
      found.push_back(fmt::format("identifier on line {} of the list found at byte {}", line + 1, at));
    }
  }
  return found;
}

std::vector<std::string> CheckJpegMarkers(std::span<const uint8_t> j) {
  std::vector<std::string> found;
  if (j.size() < 4 || j[0] != 0xFF || j[1] != 0xD8) return {"not a JPEG stream (no SOI marker)"};
  size_t i = 2;
  while (i + 4 <= j.size()) {
    if (j[i] != 0xFF) return found;  // Lost sync: only headers before the scan are examined.
    const uint8_t marker = j[i + 1];
    if (marker == 0xFF) {  // Fill byte.
      ++i;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // Start of scan / end of image: headers done.
    const size_t length = (size_t{j[i + 2]} << 8) | j[i + 3];
    if (length < 2 || i + 2 + length > j.size()) {
      found.push_back(fmt::format("a segment at byte {} runs past the end", i));
      return found;
    }
    if (marker == 0xFE) found.push_back(fmt::format("a comment (COM) segment at byte {}", i));
    if (marker >= 0xE0 && marker <= 0xEF) {
      const bool jfif = marker == 0xE0 && length >= 7 &&
                        std::equal(j.begin() + i + 4, j.begin() + i + 9, reinterpret_cast<const uint8_t*>("JFIF\0"));
      if (!jfif) found.push_back(fmt::format("an APP{} segment at byte {} (metadata)", marker - 0xE0, i));
    }
    i += 2 + length;
  }
  return found;
}

}  // namespace eden::deid
