#include "dataset/report_sections.h"

#include <array>
#include <cctype>
#include <vector>

namespace eden::dataset {
namespace {

enum class Label { kNone, kIndication, kComparison, kTechnique, kFindings, kImpression, kAddendum };

struct Synonym {
  std::string_view text;
  Label label;
};

// Longest first where one is a prefix of another ("clinical history" before "history").
constexpr std::array<Synonym, 36> kSynonyms = {{
    {"clinical indications", Label::kIndication},
    {"clinical indication", Label::kIndication},
    {"reason for examination", Label::kIndication},
    {"clinical information", Label::kIndication},
    {"reason for exam", Label::kIndication},
    {"clinical history", Label::kIndication},
    {"clinical details", Label::kIndication},
    {"clinical notes", Label::kIndication},
    {"indications", Label::kIndication},
    {"indication", Label::kIndication},
    {"history", Label::kIndication},
    {"prior studies", Label::kComparison},
    {"prior exams", Label::kComparison},
    {"prior exam", Label::kComparison},
    {"comparisons", Label::kComparison},
    {"comparison", Label::kComparison},
    {"priors", Label::kComparison},
    {"prior", Label::kComparison},
    {"examination", Label::kTechnique},
    {"technique", Label::kTechnique},
    {"procedure", Label::kTechnique},
    {"protocol", Label::kTechnique},
    {"exam", Label::kTechnique},
    {"description", Label::kFindings},
    {"findings", Label::kFindings},
    {"finding", Label::kFindings},
    {"report", Label::kFindings},
    {"final impression", Label::kImpression},
    {"interpretation", Label::kImpression},
    {"impressions", Label::kImpression},
    {"impression", Label::kImpression},
    {"conclusions", Label::kImpression},
    {"conclusion", Label::kImpression},
    {"assessment", Label::kImpression},
    {"diagnosis", Label::kImpression},
    {"addendum", Label::kAddendum},
}};
// Two short ones that do not fit above (kept apart so the table stays sorted by intent).
constexpr std::array<Synonym, 3> kMoreSynonyms = {
    {{"summary", Label::kImpression}, {"opinion", Label::kImpression}, {"addenda", Label::kAddendum}}};

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

/// The label at the start of `line` and where its text begins, if the line starts a section.
std::pair<Label, size_t> LabelOf(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '#' || line[i] == '*' || line[i] == '_' ||
                             line[i] == '-' || line[i] == '>'))
    ++i;
  // "1." / "2)" numbering.
  size_t j = i;
  while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) ++j;
  if (j > i && j < line.size() && (line[j] == '.' || line[j] == ')')) {
    i = j + 1;
    while (i < line.size() && line[i] == ' ') ++i;
  }
  auto try_list = [&](const auto& list) -> std::pair<Label, size_t> {
    for (const Synonym& s : list) {
      if (line.size() - i < s.text.size()) continue;
      bool same = true;
      for (size_t k = 0; k < s.text.size() && same; ++k) same = Lower(line[i + k]) == s.text[k];
      if (!same) continue;
      size_t k = i + s.text.size();
      while (k < line.size() && (line[k] == ' ' || line[k] == '*' || line[k] == '_'))
        ++k;  // "FINDINGS :", "**Findings**:"
      if (k < line.size() && line[k] == ':') {
        ++k;
        while (k < line.size() && (line[k] == '*' || line[k] == '_')) ++k;  // "**Findings:**", "__Findings:__"
        return {s.label, k};
      }
    }
    return {Label::kNone, 0};
  };
  auto found = try_list(kSynonyms);
  if (found.first == Label::kNone) found = try_list(kMoreSynonyms);
  return found;
}

void Append(std::string& to, const std::string& text) {
  if (text.empty()) return;
  if (!to.empty()) to += '\n';
  to += text;
}

/// Calls `visit` with each line of `text` (without its '\n' or a '\r' before it).
template <typename Visit>
void ForEachLine(std::string_view text, Visit visit) {
  size_t start = 0;
  while (true) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    visit(line);
    if (end == text.size()) return;
    start = end + 1;
  }
}

}  // namespace

ReportSections ParseReport(std::string_view text) {
  ReportSections r;
  Label current = Label::kNone;
  std::string buffer;
  auto flush = [&] {
    std::string* const sections[] = {&r.preamble, &r.indication, &r.comparison, &r.technique,
                                     &r.findings, &r.impression, &r.addendum};
    Append(*sections[static_cast<int>(current)], Trim(buffer));  // Label order.
    buffer.clear();
  };
  ForEachLine(text, [&](std::string_view line) {
    if (auto [label, at] = LabelOf(line); label != Label::kNone) {
      flush();
      current = label;
      buffer.append(line.substr(at));
    } else {
      buffer.append(line);
    }
    buffer += '\n';
  });
  flush();
  if (!r.impression.empty()) {
    r.caption = r.impression;
  } else if (!r.findings.empty()) {
    r.caption = r.findings;
  } else {
    // The last paragraph (blank-line separated) of the whole text.
    std::vector<std::string> paragraphs;
    std::string paragraph;
    ForEachLine(text, [&](std::string_view raw) {
      const std::string line = Trim(raw);
      if (line.empty()) {
        if (!paragraph.empty()) paragraphs.push_back(paragraph);
        paragraph.clear();
      } else {
        paragraph += (paragraph.empty() ? "" : " ") + line;
      }
    });
    if (!paragraph.empty()) paragraphs.push_back(paragraph);
    if (!paragraphs.empty()) r.caption = paragraphs.back();
  }
  return r;
}

}  // namespace eden::dataset
