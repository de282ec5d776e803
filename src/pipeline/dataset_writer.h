#pragma once

#include <map>
#include <string>
#include <vector>

#include "dataset/report_sections.h"
#include "pipeline/layout.h"
#include "pipeline/outcome.h"

namespace eden::pipeline {

/// One CSV field, quoted per RFC 4180 when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& value);

/// The dataset CSV: the seed's ten columns first, in the seed's order, then the extras; CRLF
/// line ends (RFC 4180), UTF-8. The header line, then one line per entry appended to `out` (a
/// run streams them to a file: a large dataset's CSV is never held whole).
std::string CsvHeader();
/// With `deid`, the columns that can only hold original identifiers (file_path, file_url) are
/// empty, report_value is the scrubbed report (empty when the file could not be read to scrub
/// it) and field_created_at is scrubbed as dates are.
/// `split` and `sections` fill the dataset columns after the seed's (empty when not given).
void AppendCsvRow(std::string& out, const JournalEntry& entry, bool deid = false, const std::string& split = {},
                  const dataset::ReportSections* sections = nullptr);

/// The column names, in order (documented in README-dataset.md).
const std::vector<std::pair<std::string, std::string>>& CsvColumns();

/// The counts README-dataset.md reports, gathered one entry at a time.
struct DatasetStats {
  size_t instances = 0, studies = 0, stored = 0, failed = 0, excluded = 0, with_report = 0;
  uint64_t deid_replacements = 0;
  std::map<std::string, size_t> modalities, errors;
  std::string last_study;  ///< Entries come grouped by study (CSV order): a new id is a new study.
  void Add(const JournalEntry& entry);
};

/// What the dataset card says about the packages (pipeline/packages.h fills it).
struct CardPackages {
  std::vector<std::pair<std::string, double>> split_spec;  ///< The --split parts, in order.
  std::map<std::string, size_t> split_images, split_patients, split_shards;
  bool webdataset = false, llava = false;
  uint64_t shard_bytes_limit = 0, shard_samples_limit = 0, shard_bytes = 0;
  size_t shards = 0, llava_samples = 0, no_caption = 0;
  std::string instruction, render = "display";
};

/// README-dataset.md, a dataset card: YAML front matter a loader reads (configs, splits with
/// counts, features), then what was selected, how it was converted, counts, how to load it,
/// the columns.
std::string BuildDatasetReadme(const DatasetStats& stats, const std::map<std::string, std::string>& meta,
                               const DatasetLayout& layout, const CardPackages& packages = {});

}  // namespace eden::pipeline
