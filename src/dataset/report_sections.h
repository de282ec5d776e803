#pragma once

#include <string>
#include <string_view>

namespace eden::dataset {

/// A radiology report split into the sections training code asks for (as MIMIC-CXR ships them).
struct ReportSections {
  std::string indication, comparison, technique, findings, impression;
  std::string addendum;  ///< Text after an ADDENDUM label (kept out of the section before it).
  std::string preamble;  ///< Text before the first label (all of it when there is none).
  /// What a caption-trained model should see: the impression, else the findings, else the last
  /// paragraph of the report.
  std::string caption;
};

/// Parses a report. A section starts at a label at the beginning of a line (after spaces, '#',
/// '*', '-' or a number like "1."), in any case, followed by a colon; its text runs to the next
/// label (text after the colon on the label's line included). Labels and their synonyms:
///   indication: indication(s), clinical indication, history, clinical history, reason for
///               exam(ination), clinical information, clinical details, clinical notes
///   comparison: comparison(s), prior(s), prior studies, prior exam(s)
///   technique:  technique, procedure, examination, exam, protocol
///   findings:   finding(s), description, report
///   impression: impression(s), conclusion(s), summary, opinion, assessment, diagnosis,
///               interpretation, final impression
///   addendum:   addendum, addenda
/// A section met twice is joined with a newline. Whitespace is trimmed. Never throws.
ReportSections ParseReport(std::string_view text);

}  // namespace eden::dataset
