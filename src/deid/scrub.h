#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eden::deid {

/// The identifiers a study's own header holds, looked for in its free text. Held in memory for
/// one instance only; never logged, never written.
struct Identifiers {
  std::vector<std::string> person_names;  ///< PN values ("DOE^JOHN^Q"): patient, physicians, operators.
  std::vector<std::string> ids;           ///< Patient ID, other ids, accession number, study id...
  std::vector<std::string> institutions;  ///< Institution and department names, addresses.
};

struct Scrubbed {
  std::string text;
  size_t replacements = 0;
};

/// Rule-based free-text scrubbing (reports, descriptions). Replaces, with visible tokens:
///   - each part of every person name (family, given, middle names, at least 2 letters) as a
///     whole word, case-insensitive: any order DICOM or prose puts them in ("DOE^JOHN",
///     "John Doe", "Doe, J") -> [NAME];
///   - each id (at least 2 characters) as a whole word -> [ID]; each institution -> [INSTITUTION];
///   - dates: YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD, "12 March 2021", "March 12, 2021",
///     "12-Mar-2021" -> shifted by `date_offset_days` when given (written YYYY-MM-DD), else [DATE];
///     day/month orders that cannot be told apart (03/04/2021), and month-year -> [DATE] always;
///   - e-mail addresses -> [EMAIL]; runs of 9 or more digits with separators or a leading '+'
///     -> [PHONE], without -> [ID];
///   - a number after a label (MRN, MR#, medical record number, patient id, accession, acc#)
///     -> [ID].
/// What it does not cover (names not in the header, addresses, ages over 89, ...) is stated in
/// README-dataset.md.
Scrubbed ScrubText(std::string_view text, const Identifiers& identifiers, std::optional<int> date_offset_days);

}  // namespace eden::deid
