#include "deid/scrub.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "deid/values.h"

namespace eden::deid {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool StartsWord(std::string_view t, size_t i) { return i == 0 || !IsWordChar(t[i - 1]); }
bool EndsWord(std::string_view t, size_t i) { return i >= t.size() || !IsWordChar(t[i]); }

/// `term` (lower case) at t[i], case-insensitive.
bool MatchAt(std::string_view t, size_t i, std::string_view term) {
  if (t.size() - i < term.size()) return false;
  for (size_t k = 0; k < term.size(); ++k)
    if (Lower(t[i + k]) != term[k]) return false;
  return true;
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

struct Term {
  std::string lower;
  std::string_view token;
};

void AddTerm(std::vector<Term>& terms, std::string_view text, std::string_view token, size_t min_size) {
  text = Trim(text);
  size_t word_chars = 0;
  for (char c : text) word_chars += IsWordChar(c) ? 1 : 0;
  if (word_chars < min_size) return;
  terms.push_back({LowerCopy(text), token});
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == s.npos ? s.npos : end - start));
    if (end == s.npos) return parts;
    start = end + 1;
  }
}

std::vector<Term> TermsOf(const Identifiers& ids) {
  std::vector<Term> terms;
  for (const std::string& value : ids.person_names) {
    for (std::string_view name : Split(value, '\\')) {
      for (std::string_view group : Split(name, '=')) {
        const auto components = Split(group, '^');
        // Family, given and middle names; not the prefix ("Dr") or suffix.
        for (size_t c = 0; c < std::min<size_t>(3, components.size()); ++c) {
          AddTerm(terms, components[c], "[NAME]", 2);
          for (std::string_view word : Split(components[c], ' ')) AddTerm(terms, word, "[NAME]", 2);
        }
      }
    }
  }
  for (const std::string& value : ids.ids)
    for (std::string_view id : Split(value, '\\')) AddTerm(terms, id, "[ID]", 2);
  for (const std::string& value : ids.institutions)
    for (std::string_view inst : Split(value, '\\')) AddTerm(terms, inst, "[INSTITUTION]", 3);
  std::sort(terms.begin(), terms.end(), [](const Term& a, const Term& b) { return a.lower.size() > b.lower.size(); });
  return terms;
}

/// One pass: at each position `match(text, i, out)` either appends a replacement and returns
/// the length consumed, or returns 0 (the character is copied).
template <typename Match>
std::string Pass(std::string_view text, size_t& replacements, Match match) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t used = match(text, i, out);
    if (used > 0) {
      i += used;
      ++replacements;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// --- e-mail -------------------------------------------------------------------------------

bool IsEmailLocal(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._%+-").find(c) != std::string_view::npos;
}
bool IsDomainChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'; }

size_t MatchEmail(std::string_view t, size_t i, std::string& out) {
  if (!IsEmailLocal(t[i]) || (i > 0 && IsEmailLocal(t[i - 1]))) return 0;
  size_t at = i;
  while (at < t.size() && IsEmailLocal(t[at])) ++at;
  if (at == i || at >= t.size() || t[at] != '@') return 0;
  size_t end = at + 1;
  while (end < t.size() && IsDomainChar(t[end])) ++end;
  while (end > at + 1 && (t[end - 1] == '.' || t[end - 1] == '-')) --end;
  const std::string_view domain = t.substr(at + 1, end - at - 1);
  if (domain.find('.') == std::string_view::npos) return 0;
  out += "[EMAIL]";
  return end - i;
}

// --- labelled ids -------------------------------------------------------------------------

constexpr std::array<std::string_view, 10> kIdLabels = {"medical record number",
                                                        "medical record no",
                                                        "medical record",
                                                        "patient id",
                                                        "accession number",
                                                        "accession no",
                                                        "accession",
                                                        "mrn",
                                                        "mr#",
                                                        "acc#"};

size_t MatchLabelledId(std::string_view t, size_t i, std::string& out) {
  if (!StartsWord(t, i)) return 0;
  for (std::string_view label : kIdLabels) {
    if (!MatchAt(t, i, label)) continue;
    size_t k = i + label.size();
    if (IsWordChar(label.back()) && !EndsWord(t, k)) continue;
    auto skip = [&] {
      while (k < t.size() && (t[k] == ' ' || t[k] == ':' || t[k] == '#' || t[k] == '.' || t[k] == '=')) ++k;
    };
    skip();
    for (std::string_view filler : {"number", "no", "nr"}) {
      if (MatchAt(t, k, filler) && EndsWord(t, k + filler.size())) {
        k += filler.size();
        skip();
        break;
      }
    }
    size_t end = k;
    bool digit = false;
    while (end < t.size() && (std::isalnum(static_cast<unsigned char>(t[end])) || t[end] == '-' || t[end] == '/')) {
      digit = digit || IsDigit(t[end]);
      ++end;
    }
    if (!digit) return 0;
    out.append(t.substr(i, k - i));
    out += "[ID]";
    return end - i;
  }
  return 0;
}

// --- dates --------------------------------------------------------------------------------

constexpr std::array<std::string_view, 12> kMonths = {"january",   "february", "march",    "april",
                                                      "may",       "june",     "july",     "august",
                                                      "september", "october",  "november", "december"};

/// A month name or its abbreviation at t[i] ("mar", "march", "sept"): its number and length.
std::optional<std::pair<int, size_t>> MonthAt(std::string_view t, size_t i) {
  if (!StartsWord(t, i)) return std::nullopt;
  for (size_t m = 0; m < kMonths.size(); ++m) {
    const std::string_view full = kMonths[m];
    if (MatchAt(t, i, full) && EndsWord(t, i + full.size()))
      return std::make_pair(static_cast<int>(m + 1), full.size());
    if (m == 8 && MatchAt(t, i, "sept") && EndsWord(t, i + 4)) return std::make_pair(9, size_t{4});
    if (MatchAt(t, i, full.substr(0, 3)) && EndsWord(t, i + 3)) {
      size_t len = 3;
      if (i + 3 < t.size() && t[i + 3] == '.') len = 4;
      return std::make_pair(static_cast<int>(m + 1), len);
    }
  }
  return std::nullopt;
}

size_t Digits(std::string_view t, size_t i, size_t max) {
  size_t n = 0;
  while (i + n < t.size() && n < max && IsDigit(t[i + n])) ++n;
  return n;
}

int Number(std::string_view t, size_t i, size_t n) {
  int v = 0;
  for (size_t k = 0; k < n; ++k) v = v * 10 + (t[i + k] - '0');
  return v;
}

void WriteDate(std::string& out, int y, int m, int d, std::optional<int> offset) {
  if (offset) {
    if (auto shifted = ShiftDate(fmt::format("{:04d}{:02d}{:02d}", y, m, d), *offset)) {
      out += fmt::format("{}-{}-{}", shifted->substr(0, 4), shifted->substr(4, 2), shifted->substr(6, 2));
      return;
    }
  }
  out += "[DATE]";
}

size_t MatchDate(std::string_view t, size_t i, std::string& out, std::optional<int> offset) {
  if (!StartsWord(t, i)) return 0;
  if (IsDigit(t[i])) {
    const size_t n1 = Digits(t, i, 9);
    // YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD
    if (n1 == 4 && i + 4 < t.size() && (t[i + 4] == '-' || t[i + 4] == '/' || t[i + 4] == '.')) {
      const char sep = t[i + 4];
      const size_t n2 = Digits(t, i + 5, 2);
      if (n2 > 0 && i + 5 + n2 < t.size() && t[i + 5 + n2] == sep) {
        const size_t n3 = Digits(t, i + 6 + n2, 2);
        const size_t end = i + 6 + n2 + n3;
        if (n3 > 0 && EndsWord(t, end)) {
          WriteDate(out, Number(t, i, 4), Number(t, i + 5, n2), Number(t, i + 6 + n2, n3), offset);
          return end - i;
        }
      }
    }
    // DD/MM/YYYY, MM-DD-YY ...: the order cannot be known.
    if ((n1 == 1 || n1 == 2) && i + n1 < t.size() && (t[i + n1] == '-' || t[i + n1] == '/' || t[i + n1] == '.')) {
      const char sep = t[i + n1];
      const size_t n2 = Digits(t, i + n1 + 1, 2);
      if (n2 > 0 && i + n1 + 1 + n2 < t.size() && t[i + n1 + 1 + n2] == sep) {
        const size_t n3 = Digits(t, i + n1 + 2 + n2, 4);
        const size_t end = i + n1 + 2 + n2 + n3;
        if ((n3 == 2 || n3 == 4) && EndsWord(t, end)) {
          out += "[DATE]";
          return end - i;
        }
      }
    }
    // YYYYMMDD
    if (n1 == 8 && EndsWord(t, i + 8)) {
      const int y = Number(t, i, 4), m = Number(t, i + 4, 2), d = Number(t, i + 6, 2);
      if (y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
        WriteDate(out, y, m, d, offset);
        return 8;
      }
    }
    // 12 March 2021, 12-Mar-2021, 12th of March 2021
    if (n1 == 1 || n1 == 2) {
      size_t k = i + n1;
      for (std::string_view suffix : {"st", "nd", "rd", "th"})
        if (MatchAt(t, k, suffix)) k += 2;
      while (k < t.size() && (t[k] == ' ' || t[k] == '-')) ++k;
      if (MatchAt(t, k, "of ")) k += 3;
      if (auto month = MonthAt(t, k)) {
        k += month->second;
        while (k < t.size() && (t[k] == ' ' || t[k] == '-' || t[k] == ',')) ++k;
        const size_t ny = Digits(t, k, 5);
        if (ny == 4 && EndsWord(t, k + 4)) {
          WriteDate(out, Number(t, k, 4), month->first, Number(t, i, n1), offset);
          return k + 4 - i;
        }
      }
    }
    return 0;
  }
  // March 12, 2021 / March 2021
  if (auto month = MonthAt(t, i)) {
    size_t k = i + month->second;
    while (k < t.size() && t[k] == ' ') ++k;
    const size_t nd = Digits(t, k, 5);
    if (nd == 1 || nd == 2) {
      size_t j = k + nd;
      for (std::string_view suffix : {"st", "nd", "rd", "th"})
        if (MatchAt(t, j, suffix)) j += 2;
      while (j < t.size() && (t[j] == ' ' || t[j] == ',')) ++j;
      if (Digits(t, j, 5) == 4 && EndsWord(t, j + 4)) {
        WriteDate(out, Number(t, j, 4), month->first, Number(t, k, nd), offset);
        return j + 4 - i;
      }
    } else if (nd == 4 && EndsWord(t, k + 4) && month->second > 3) {
      out += "[DATE]";
      return k + 4 - i;
    }
  }
  return 0;
}

// --- long digit runs ----------------------------------------------------------------------

size_t MatchDigitRun(std::string_view t, size_t i, std::string& out) {
  if (!StartsWord(t, i) && t[i] != '+' && t[i] != '(') return 0;
  if (!(IsDigit(t[i]) || t[i] == '+' || t[i] == '(')) return 0;
  if ((t[i] == '+' || t[i] == '(') && i > 0 && IsWordChar(t[i - 1])) return 0;
  size_t k = i, digits = 0, last_digit = i;
  bool separated = t[i] == '+';
  while (k < t.size()) {
    const char c = t[k];
    if (IsDigit(c)) {
      ++digits;
      last_digit = k;
    } else if (c == '-' || c == '.' || c == '(' || c == ')' ||
               (c == ' ' && k + 1 < t.size() && (IsDigit(t[k + 1]) || t[k + 1] == '(')) || (c == '+' && k == i)) {
      if (k != i) separated = true;
    } else {
      break;
    }
    ++k;
  }
  if (digits < 9 || !EndsWord(t, last_digit + 1)) return 0;
  out += separated ? "[PHONE]" : "[ID]";
  return last_digit + 1 - i;
}

}  // namespace

Scrubbed ScrubText(std::string_view text, const Identifiers& identifiers, std::optional<int> date_offset_days) {
  Scrubbed s;
  std::string t = Pass(text, s.replacements, MatchEmail);
  const std::vector<Term> terms = TermsOf(identifiers);
  if (!terms.empty()) {
    t = Pass(t, s.replacements, [&](std::string_view v, size_t i, std::string& out) -> size_t {
      if (!StartsWord(v, i) && IsWordChar(v[i])) return 0;
      for (const Term& term : terms) {
        if (MatchAt(v, i, term.lower) && (EndsWord(v, i + term.lower.size()) || !IsWordChar(term.lower.back()))) {
          out += term.token;
          return term.lower.size();
        }
      }
      return 0;
    });
  }
  t = Pass(t, s.replacements, MatchLabelledId);
  t = Pass(t, s.replacements,
           [&](std::string_view v, size_t i, std::string& out) { return MatchDate(v, i, out, date_offset_days); });
  t = Pass(t, s.replacements, MatchDigitRun);
  s.text = std::move(t);
  return s;
}

}  // namespace eden::deid
