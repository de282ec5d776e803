#pragma once

#include <map>
#include <string>
#include <vector>

#include "pipeline/layout.h"
#include "pipeline/outcome.h"

namespace eden::pipeline {

/// One CSV field, quoted per RFC 4180 when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& value);

/// The dataset CSV: the seed's ten columns first, in the seed's order, then the extras. One row
/// per entry, in the order given; CRLF line ends (RFC 4180), UTF-8.
std::string BuildCsv(const std::vector<JournalEntry>& entries);

/// The column names, in order (documented in README-dataset.md).
const std::vector<std::pair<std::string, std::string>>& CsvColumns();

/// README-dataset.md: what was selected, how it was converted, counts, columns.
std::string BuildDatasetReadme(const std::vector<JournalEntry>& entries, const std::map<std::string, std::string>& meta,
                               const DatasetLayout& layout);

}  // namespace eden::pipeline
