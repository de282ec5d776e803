#include "cli/console_observer.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::cli {

using Clock = std::chrono::steady_clock;

void ConsoleObserver::OnSelectionStats(const source::SelectionStats& s) {
  if (quiet_) return;
  fmt::print(out_, "\n=== Selection statistics ===\n");
  fmt::print(out_, "  studies:                 {}\n  series:                  {}\n  instances:               {}\n",
             s.studies, s.series, s.instances);
  fmt::print(out_, "  instances without a URL: {}\n  studies with a report:   {}\n", s.instances_without_url,
             s.studies_with_report);
  std::fflush(out_);
}

void ConsoleObserver::OnPage(int page, size_t rows_so_far) {
  if (quiet_) return;
  fmt::print(out_, "  page {:>4}: {} rows so far\n", page, rows_so_far);
  std::fflush(out_);
}

void ConsoleObserver::OnResume(size_t total, size_t already_stored) {
  if (quiet_) return;
  fmt::print(out_,
             "\n=== Resuming the frozen sample ===\n  instances: {}, already stored and verified: {}, to do: {}\n",
             total, already_stored, total - already_stored);
  std::fflush(out_);
}

void ConsoleObserver::OnPhase(const std::string& name, size_t items) {
  phase_start_ = last_line_ = Clock::now();
  last_decile_ = -1;
  if (quiet_) return;
  if (name == "extract") {
    fmt::print(out_, "\n=== Extraction: download, convert, store ({} instances) ===\n", items);
  } else {
    fmt::print(out_, "\n=== Writing the CSV and README-dataset.md ===\n");
  }
  std::fflush(out_);
}

void ConsoleObserver::OnOutcome(const pipeline::InstanceOutcome& o, size_t done, size_t total) {
  o.stored ? ++stored_ : ++failed_;
  bytes_ += o.dicom_bytes;
  if (!o.stored && failures_) {
    if (bar_ && !quiet_) fmt::print(out_, "\r\033[K");
    fmt::print(out_, "  failed {}: {}: {}\n", o.instance_id, o.error_code, o.error_message);
  }
  if (o.stored && debug_) {
    if (bar_ && !quiet_) fmt::print(out_, "\r\033[K");
    fmt::print(out_,
               "  stored {}: {} B DICOM, {} B JPEG, {}x{} {} {}, fetch {:.0f} ms, convert {:.0f} ms, store {:.0f} ms\n",
               o.instance_id, o.dicom_bytes, o.jpg_bytes, o.columns, o.rows, o.modality, o.photometric, o.fetch_ms,
               o.convert_ms, o.store_ms);
  }
  if (quiet_) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - phase_start_).count();
  const double rate = seconds > 0 ? done / seconds : 0;
  if (bar_) {
    const int width = 30;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    fmt::print(out_, "\r  [{}{}] {}/{}  {:.1f}/s  {:.1f} MB  stored {}  failed {}", std::string(filled, '#'),
               std::string(width - filled, '.'), done, total, rate, bytes_ / 1e6, stored_, failed_);
    bar_open_ = done != total;
    if (!bar_open_) fmt::print(out_, "\n");
  } else {
    const int decile = total ? static_cast<int>(10 * done / total) : 10;
    if (decile != last_decile_ || done == total ||
        std::chrono::duration<double>(Clock::now() - last_line_).count() > 5) {
      fmt::print(out_, "  {}/{} ({:.0f}%)  {:.1f}/s  stored {}  failed {}\n", done, total,
                 total ? 100.0 * done / total : 100.0, rate, stored_, failed_);
      last_decile_ = decile;
      last_line_ = Clock::now();
    }
  }
  std::fflush(out_);
}

void ConsoleObserver::EndLine() {
  if (!bar_open_) return;
  fmt::print(out_, "\n");
  std::fflush(out_);
  bar_open_ = false;
}

void PrintSummary(std::FILE* out, const pipeline::RunSummary& s) {
  fmt::print(out, "\n=== Summary ===\n");
  fmt::print(
      out,
      "  selection: {:.2f} s{}\n  extraction: {:.2f} s ({} instances, {:.1f}/s, {:.1f} MB DICOM, {:.1f} MB JPEG)\n",
      s.select_s, s.resumed ? " (resumed from the journal)" : "", s.process_s, s.processed,
      s.process_s > 0 ? s.processed / s.process_s : 0.0, s.dicom_bytes / 1e6, s.jpg_bytes / 1e6);
  fmt::print(out, "  CSV + README: {:.2f} s\n  total: {:.2f} s\n", s.finalize_s, s.total_s);
  fmt::print(out, "  instances: {} in the sample, {} stored ({} by earlier runs), {} failed\n", s.total, s.stored,
             s.already_stored, s.failed);
  if (s.pruned > 0) {
    fmt::print(out, "  --fresh: {} object(s) of the previous sample {}\n", s.pruned,
               s.old_samples.empty() ? std::string("removed") : "moved to " + s.old_samples);
  }
  if (s.duplicate_rows > 0) {
    std::string examples;
    for (const auto& id : s.duplicate_examples) examples += (examples.empty() ? "" : ", ") + id;
    fmt::print(out, "  warning: {} selected row(s) repeated an instance id and were left out{}{}\n", s.duplicate_rows,
               examples.empty() ? "" : ": ", examples);
  }
  if (!s.upload.empty()) {
    std::string line;
    for (const auto& [k, v] : s.upload) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", v, k);
    fmt::print(out, "  uploads: {}\n", line);
  }
  fmt::print(out, "  CSV:    {}\n  README: {}\n", s.csv_uri, s.readme_uri);
  if (!s.failures.empty()) {
    // A screenful here; the CSV has every failure with its reason.
    constexpr size_t kShown = 20;
    fmt::print(out, "  failures:\n");
    for (size_t i = 0; i < s.failures.size() && i < kShown; ++i)
      fmt::print(out, "    {}: {}\n", s.failures[i].instance_id, s.failures[i].error);
    if (s.failed > kShown)
      fmt::print(out, "    ... and {} more: the CSV's status and error columns list every one\n", s.failed - kShown);
  }
}

std::string SummaryJson(const pipeline::RunSummary& s) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : s.failures) failures.push_back({{"instance_id", f.instance_id}, {"error", f.error}});
  nlohmann::json j = {
      {"exit_code", s.exit_code},
      {"resumed", s.resumed},
      {"statistics",
       {{"studies", s.stats.studies},
        {"series", s.stats.series},
        {"instances", s.stats.instances},
        {"instances_without_url", s.stats.instances_without_url},
        {"studies_with_report", s.stats.studies_with_report}}},
      {"instances",
       {{"total", s.total},
        {"stored", s.stored},
        {"already_stored", s.already_stored},
        {"processed", s.processed},
        {"failed", s.failed},
        {"duplicate_rows", s.duplicate_rows},
        {"pruned", s.pruned}}},
      {"bytes", {{"dicom", s.dicom_bytes}, {"jpeg", s.jpg_bytes}}},
      {"seconds", {{"select", s.select_s}, {"process", s.process_s}, {"finalize", s.finalize_s}, {"total", s.total_s}}},
      {"csv", s.csv_uri},
      {"readme", s.readme_uri},
      {"failures", failures},
      {"failures_not_listed", s.failed - std::min(s.failed, s.failures.size())}};
  if (!s.upload.empty()) {
    nlohmann::json u = nlohmann::json::object();
    for (const auto& [k, v] : s.upload) u[k] = v;
    j["upload"] = u;
  }
  return j.dump(2);
}

}  // namespace eden::cli
