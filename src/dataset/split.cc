#include "dataset/split.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "digest/digest.h"

namespace eden::dataset {

Result<SplitSpec> ParseSplit(std::string_view text) {
  SplitSpec spec;
  std::set<std::string> seen;
  double sum = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(start, end - start);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("--split: '{}' is not name=fraction", part));
    }
    const std::string name(part.substr(0, eq));
    for (char c : name) {
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
            c == '-')) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("--split: the name '{}' may hold lower-case letters, digits, '_' and '-' only", name));
      }
    }
    if (!seen.insert(name).second) return Fail(ErrorCode::kInvalidArgument, fmt::format("--split: '{}' twice", name));
    const std::string number(part.substr(eq + 1));
    char* stop = nullptr;
    const double fraction = std::strtod(number.c_str(), &stop);
    if (number.empty() || stop != number.c_str() + number.size() || !(fraction > 0) || !std::isfinite(fraction)) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("--split: the fraction of '{}' ('{}') is not a number above 0", name, number));
    }
    spec.parts.emplace_back(name, fraction);
    sum += fraction;
    if (end == text.size()) break;
    start = end + 1;
  }
  if (std::abs(sum - 1.0) > 1e-6) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("--split: the fractions sum to {:g}, not 1", sum));
  }
  return spec;
}

std::string AssignSplit(const SplitSpec& spec, std::string_view secret, std::string_view patient) {
  if (spec.parts.empty()) return {};
  const std::string message = fmt::format("eden-split:{}:{}", secret, patient);
  const auto hash =
      digest::Sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | hash[i];
  const double x = static_cast<double>(v) / 18446744073709551616.0;  // 2^64
  double upto = 0;
  for (const auto& [name, fraction] : spec.parts) {
    upto += fraction;
    if (x < upto) return name;
  }
  return spec.parts.back().first;  // Rounding: the last part takes what is left.
}

}  // namespace eden::dataset
