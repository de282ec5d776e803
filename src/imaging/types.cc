#include "imaging/types.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace eden::imaging {
namespace {

std::string Normalise(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == ' ' || ch == '\0') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  return out;
}

}  // namespace

Photometric ParsePhotometric(std::string_view text) {
  const std::string p = Normalise(text);
  if (p == "MONOCHROME1") return Photometric::kMonochrome1;
  if (p == "MONOCHROME2") return Photometric::kMonochrome2;
  if (p == "RGB" || p == "YBR_RCT" || p == "YBR_ICT") return Photometric::kRgb;
  if (p == "YBR_FULL") return Photometric::kYbrFull;
  if (p == "YBR_FULL_422") return Photometric::kYbrFull422;
  if (p == "PALETTECOLOR") return Photometric::kPaletteColor;
  return Photometric::kOther;
}

std::string_view PhotometricName(Photometric p) {
  switch (p) {
    case Photometric::kMonochrome1:
      return "MONOCHROME1";
    case Photometric::kMonochrome2:
      return "MONOCHROME2";
    case Photometric::kRgb:
      return "RGB";
    case Photometric::kYbrFull:
      return "YBR_FULL";
    case Photometric::kYbrFull422:
      return "YBR_FULL_422";
    case Photometric::kPaletteColor:
      return "PALETTE COLOR";
    case Photometric::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::optional<VoiFunction> ParseVoiFunction(std::string_view text) {
  const std::string f = Normalise(text);
  if (f == "LINEAR") return VoiFunction::kLinear;
  if (f == "LINEAR_EXACT") return VoiFunction::kLinearExact;
  if (f == "SIGMOID") return VoiFunction::kSigmoid;
  return std::nullopt;
}

std::string_view VoiFunctionName(VoiFunction f) {
  switch (f) {
    case VoiFunction::kLinear:
      return "LINEAR";
    case VoiFunction::kLinearExact:
      return "LINEAR_EXACT";
    case VoiFunction::kSigmoid:
      return "SIGMOID";
  }
  return "LINEAR";
}

uint16_t Lut::At(double x) const {
  if (data.empty()) return 0;
  const double index = std::floor(x) - first_mapped;
  if (index <= 0) return data.front();
  if (index >= static_cast<double>(data.size() - 1)) return data.back();
  return data[static_cast<size_t>(index)];
}

double Lut::MaxValue() const {
  const double declared = std::ldexp(1.0, bits) - 1.0;
  const uint16_t largest = data.empty() ? 0 : *std::max_element(data.begin(), data.end());
  return largest > declared ? 65535.0 : declared;
}

}  // namespace eden::imaging
