#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "pipeline/run.h"

namespace eden::cli {

/// Prints the seed's console blocks: statistics, pages, phases, progress (a live bar on a
/// terminal, a line every 10% or 5 s otherwise), failures as they happen. Never prints report
/// text, patient data or secrets: instance ids, counts and error codes only.
class ConsoleObserver final : public pipeline::RunObserver {
 public:
  /// `level`: LOGGING_LEVEL. DEBUG adds a line per stored instance (id, sizes, stage times);
  /// WARNING and above keep only failures; `quiet` (--progress none) hides progress lines.
  ConsoleObserver(std::FILE* out, bool bar, bool quiet, std::string level = "INFO")
      : out_(out),
        bar_(bar),
        quiet_(quiet || level == "WARNING" || level == "ERROR" || level == "CRITICAL"),
        debug_(level == "DEBUG"),
        failures_(level != "ERROR" && level != "CRITICAL") {}
  void OnSelectionStats(const source::SelectionStats& s) override;
  void OnPage(int page, size_t rows_so_far) override;
  void OnResume(size_t total, size_t already_stored) override;
  void OnPhase(const std::string& name, size_t items) override;
  void OnOutcome(const pipeline::InstanceOutcome& o, size_t done, size_t total) override;
  /// Ends a progress bar left unfinished (a run that stopped early), so what follows starts on
  /// its own line.
  void EndLine();

 private:
  std::FILE* out_;
  bool bar_, quiet_, debug_, failures_;
  bool bar_open_ = false;  ///< A bar is drawn on the current line.
  size_t stored_ = 0, failed_ = 0;
  uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point phase_start_{}, last_line_{};
  int last_decile_ = -1;
};

/// The closing block: timings, counts, locations, failures. And the JSON form.
void PrintSummary(std::FILE* out, const pipeline::RunSummary& s);
std::string SummaryJson(const pipeline::RunSummary& s);

}  // namespace eden::cli
