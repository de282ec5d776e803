#pragma once

#include <cstdio>
#include <string>

#include "cli/progress.h"
#include "pipeline/run.h"

namespace eden::cli {

/// Prints the seed's console blocks: statistics, phases, progress (one line per phase redrawn in
/// place on a terminal; otherwise a line every 5% or 10 s), failures once as they happen (the
/// first kPrintedFailures; the CSV has every one). Never prints report text, patient data or
/// secrets: instance ids, counts and error codes only.
class ConsoleObserver final : public pipeline::RunObserver {
 public:
  /// `level`: LOGGING_LEVEL. DEBUG adds a line per stored instance (id, sizes, stage times);
  /// WARNING and above keep only failures; `quiet` (--progress none) hides progress lines.
  /// `now`: the clock for rates and pacing (tests inject one).
  ConsoleObserver(std::FILE* out, bool bar, bool quiet, const std::string& level = "INFO", Progress::Now now = {})
      : out_(out),
        quiet_(quiet || level == "WARNING" || level == "ERROR" || level == "CRITICAL"),
        debug_(level == "DEBUG"),
        failures_(level != "ERROR" && level != "CRITICAL"),
        progress_(out, bar, std::move(now)) {}
  /// Failures printed as they happen; after these, one line says the rest are in the CSV.
  static constexpr size_t kPrintedFailures = 20;

  void OnSelectionStats(const source::SelectionStats& s) override;
  void OnPage(int page, size_t rows_so_far) override;
  void OnSelected(size_t rows) override;
  void OnResume(size_t total, size_t already_stored) override;
  void OnPhase(const std::string& name, size_t items) override;
  void OnOutcome(const pipeline::InstanceOutcome& o, size_t done, size_t total) override;
  /// Ends a phase left unfinished (a run that stopped early) with its last figures, so what
  /// follows starts on its own line.
  void EndLine();

 private:
  std::string Counts() const;
  void Say(const std::string& line);  ///< A line of its own, above the progress line.

  std::FILE* out_;
  bool quiet_, debug_, failures_;
  Progress progress_;
  int pages_ = 0;
  size_t stored_ = 0, failed_ = 0, excluded_ = 0, failures_printed_ = 0;
  uint64_t bytes_ = 0;
};

/// The closing block: timings, counts, locations, failures. And the JSON form.
void PrintSummary(std::FILE* out, const pipeline::RunSummary& s);
std::string SummaryJson(const pipeline::RunSummary& s);

}  // namespace eden::cli
