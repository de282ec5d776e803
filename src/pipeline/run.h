#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "pipeline/executor.h"
#include "pipeline/packages.h"
#include "source/pacs_source.h"

namespace eden::pipeline {

/// Everything `eden run` needs, as plain data (built from the configuration by the CLI).
struct RunOptions {
  source::Selection selection;
  std::string query_name = "queries/dicom_reports.sql";  ///< For the dataset README.
  int page_size = 25;
  bool fresh = false;
  /// With fresh: the older sample's objects are moved to <prefix>/old-samples/<time>/ instead
  /// of removed.
  bool keep_old = false;
  std::filesystem::path journal_path;
  ExecutorOptions executor;
  convert::ConvertOptions convert;
  DatasetLayout layout;
  /// deid::Describe of the de-identification (the journal keeps it; "off": files as they came).
  std::string deid = "off";
  /// Splits, report sections, metadata.jsonl, LLaVA, WebDataset (pipeline/packages.h).
  PackageOptions packages;
  /// --incremental: a frozen sample grows by the selection's studies it does not hold yet; with
  /// none and the last run finished, nothing is done or written (RunSummary::nothing_new).
  bool incremental = false;
  /// Where the journal's copy goes after each finished run, in the destination (GCS:
  /// <prefix>/.eden/journal.sqlite); empty when the journal is in the destination already.
  std::string record_key;
};

/// The summary lists at most this many failures, the first in CSV order: memory stays flat
/// however many rows fail. `RunSummary::failed` counts them all and the CSV has every one.
inline constexpr size_t kListedFailures = 1000;

/// One failed instance, for the summary.
struct Failure {
  std::string instance_id;
  std::string error;
};

/// What a run did, for the console and --summary-json.
struct RunSummary {
  source::SelectionStats stats;
  bool resumed = false;       ///< The sample came from the journal, not the database.
  size_t total = 0;           ///< Instances in the sample.
  size_t already_stored = 0;  ///< Skipped: stored and verified by an earlier run.
  size_t processed = 0;       ///< Attempted in this run.
  size_t stored = 0;          ///< Stored after this run (all runs).
  size_t failed = 0;
  size_t excluded = 0;             ///< Left out on purpose (burned-in text): not failures.
  size_t added_instances = 0;      ///< Put in the sample by this run (all of it the first time).
  size_t added_studies = 0;        ///< --incremental: studies new to the dataset.
  bool nothing_new = false;        ///< --incremental found nothing new: nothing was written.
  std::string deid = "off";        ///< deid::Describe of the run's de-identification.
  uint64_t deid_replacements = 0;  ///< Identifiers replaced in report text.
  /// Selected rows whose instance id an earlier row of the selection already had: the first
  /// is kept, these are not in the dataset (a query that repeats rows, e.g. a report join).
  size_t duplicate_rows = 0;
  std::vector<std::string> duplicate_examples;  ///< The first few such ids (this run's selection).
  uint64_t dicom_bytes = 0, jpg_bytes = 0;      ///< Written in this run.
  /// Objects of an older sample that a --fresh run removed (or, keep_old, moved to old_samples).
  size_t pruned = 0;
  std::string old_samples;  ///< Where keep_old moved them (a URI); empty if removed.
  double select_s = 0, process_s = 0, finalize_s = 0, total_s = 0;
  std::vector<Failure> failures;                   ///< The first kListedFailures of the `failed`.
  std::map<std::string, size_t> failures_by_code;  ///< Every failure, counted by error code.
  std::string csv_uri, readme_uri, metadata_uri, output_root;
  PackageSummary packages;
  std::vector<std::pair<std::string, uint64_t>> upload;  ///< Store counters (GCS: requests, retries...).
  int exit_code = 0;                                     ///< 0 all stored, 1 some failed.
};

/// How a run talks to whoever watches it (the console, a test).
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnSelectionStats(const source::SelectionStats& stats) = 0;
  virtual void OnPage(int page, size_t rows_so_far) = 0;
  /// The sample is frozen in the journal: `rows` instances (repeated ids left out).
  virtual void OnSelected(size_t rows) { (void)rows; }
  virtual void OnResume(size_t total, size_t already_stored) = 0;
  virtual void OnPhase(const std::string& name, size_t items) = 0;
  virtual void OnOutcome(const InstanceOutcome& outcome, size_t done, size_t total) = 0;
};

/// The run: select (or resume the frozen sample), fetch -> convert -> store every pending
/// instance (in process, or through `dispatch` when given: the broker, see executor.h), then write the CSV and
/// README-dataset.md (last, so a reader never sees a CSV naming missing objects). `connect` is called only if the
/// journal has no frozen sample. Errors: kUnavailable (database or destination unreachable, or the DICOM server stopped
/// answering: see OutageDetector; exit 3), kInvalidArgument, kIo. After an error the journal
/// keeps every outcome that finished, and a rerun resumes.
Result<RunSummary> Run(const RunOptions& options,
                       const std::function<Result<std::unique_ptr<source::PacsSource>>()>& connect,
                       storage::ObjectStore& store, const StageFactories& factories, RunObserver& observer,
                       const Dispatcher& dispatch = {});

}  // namespace eden::pipeline
