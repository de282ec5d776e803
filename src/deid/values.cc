#include "deid/values.h"

#include <cctype>
#include <chrono>

#include <fmt/format.h>

namespace eden::deid {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

/// One YYYYMMDD date (already 8 digits) plus `days`, as YYYYMMDD.
std::optional<std::string> ShiftYmd(std::string_view ymd, int days) {
  using namespace std::chrono;
  const year_month_day d{year(ToInt(ymd.substr(0, 4))), month(static_cast<unsigned>(ToInt(ymd.substr(4, 2)))),
                         day(static_cast<unsigned>(ToInt(ymd.substr(6, 2))))};
  if (!d.ok()) return std::nullopt;
  const year_month_day shifted{sys_days(d) + std::chrono::days(days)};
  if (static_cast<int>(shifted.year()) < 1) return std::nullopt;
  return fmt::format("{:04d}{:02d}{:02d}", static_cast<int>(shifted.year()), static_cast<unsigned>(shifted.month()),
                     static_cast<unsigned>(shifted.day()));
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

std::optional<std::string> ShiftDate(std::string_view da, int days) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = da.find('\\', start);
    std::string_view value = TrimSpaces(da.substr(start, end == std::string_view::npos ? da.npos : end - start));
    std::string compact;
    if (value.size() == 10 && value[4] == '.' && value[7] == '.') {
      compact = fmt::format("{}{}{}", value.substr(0, 4), value.substr(5, 2), value.substr(8, 2));
      value = compact;
    }
    if (value.size() != 8 || !AllDigits(value)) return std::nullopt;
    auto shifted = ShiftYmd(value, days);
    if (!shifted) return std::nullopt;
    out += *shifted;
    if (end == std::string_view::npos) break;
    out += '\\';
    start = end + 1;
  }
  return out;
}

std::optional<std::string> ShiftDateTime(std::string_view dt, int days) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = dt.find('\\', start);
    std::string_view value = TrimSpaces(dt.substr(start, end == std::string_view::npos ? dt.npos : end - start));
    if (value.size() < 8 || !AllDigits(value.substr(0, 8))) return std::nullopt;
    auto shifted = ShiftYmd(value.substr(0, 8), days);
    if (!shifted) return std::nullopt;
    out += *shifted;
    out += value.substr(8);
    if (end == std::string_view::npos) break;
    out += '\\';
    start = end + 1;
  }
  return out;
}

std::string DummyValue(std::string_view vr) {
  if (vr == "DA") return "19000101";
  if (vr == "DT") return "19000101000000";
  if (vr == "TM") return "000000";
  if (vr == "DS" || vr == "IS") return "0";
  if (vr == "AS") return "000Y";
  if (vr == "CS") return "ANONYMIZED";
  if (vr == "AE" || vr == "SH" || vr == "LO" || vr == "LT" || vr == "ST" || vr == "UT" || vr == "UC" || vr == "PN")
    return "ANONYMIZED";
  return {};
}

}  // namespace eden::deid
