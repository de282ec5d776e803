#include "cli/console_observer.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::cli {

void ConsoleObserver::OnSelectionStats(const source::SelectionStats& s) {
  if (quiet_) return;
  fmt::print(out_, "\n=== Selection statistics ===\n");
  fmt::print(out_, "  studies:                 {}\n  series:                  {}\n  instances:               {}\n",
             s.studies, s.series, s.instances);
  fmt::print(out_, "  instances without a URL: {}\n  studies with a report:   {}\n", s.instances_without_url,
             s.studies_with_report);
  fmt::print(out_, "\n=== Selection: the sample's rows into the journal ===\n");
  progress_.Start("select", s.instances, [this] { return fmt::format("{} pages", Thousands(pages_)); });
  std::fflush(out_);
}

void ConsoleObserver::OnPage(int page, size_t rows_so_far) {
  pages_ = page;
  progress_.Update(rows_so_far);  // Inactive (never started) when quiet.
}

void ConsoleObserver::OnSelected(size_t) { progress_.Finish(); }

void ConsoleObserver::OnResume(size_t total, size_t already_stored) {
  if (quiet_) return;
  fmt::print(out_,
             "\n=== Resuming the frozen sample ===\n  instances: {}, already stored and verified: {}, to do: {}\n",
             Thousands(total), Thousands(already_stored), Thousands(total - already_stored));
  std::fflush(out_);
}

void ConsoleObserver::OnPhase(const std::string& name, size_t items) {
  EndLine();
  stored_ = failed_ = excluded_ = 0;
  bytes_ = 0;
  if (quiet_) return;
  if (name == "extract") {
    fmt::print(out_, "\n=== Extraction: download, convert, store ({} instances) ===\n", Thousands(items));
    progress_.Start("extract", items, [this] { return Counts(); });
    if (items == 0) progress_.Done(0);
  } else {
    fmt::print(out_, "\n=== Writing the CSV and README-dataset.md ===\n");
  }
  std::fflush(out_);
}

std::string ConsoleObserver::Counts() const {
  if (excluded_ > 0) {
    return fmt::format("stored {}  failed {}  excluded {}  {}", Thousands(stored_), Thousands(failed_),
                       Thousands(excluded_), FormatBytes(bytes_));
  }
  return fmt::format("stored {}  failed {}  {}", Thousands(stored_), Thousands(failed_), FormatBytes(bytes_));
}

void ConsoleObserver::Say(const std::string& line) {
  progress_.Clear();
  fmt::print(out_, "{}\n", line);
  std::fflush(out_);
}

void ConsoleObserver::OnOutcome(const pipeline::InstanceOutcome& o, size_t done, size_t total) {
  o.stored ? ++stored_ : o.excluded ? ++excluded_ : ++failed_;
  bytes_ += o.dicom_bytes;
  if (!o.stored && !o.excluded && failures_) {
    if (failures_printed_ < kPrintedFailures) {
      Say(fmt::format("  failed {}: {}: {}", o.instance_id, o.ErrorCodeText(), o.ErrorText()));
    } else if (failures_printed_ == kPrintedFailures) {
      Say(
          fmt::format("  (more failures are not printed: the summary counts them by reason, the CSV's status and "
                      "error columns list every one)"));
    }
    ++failures_printed_;
  }
  if (o.stored && debug_) {
    Say(fmt::format(
        "  stored {}: {} B DICOM, {} B JPEG, {}x{} {} {}, fetch {:.0f} ms, convert {:.0f} ms, store {:.0f} ms",
        o.instance_id, o.dicom_bytes, o.jpg_bytes, o.columns, o.rows, o.modality, o.photometric, o.fetch_ms,
        o.convert_ms, o.store_ms));
  }
  if (done >= total) {
    progress_.Done(done);
  } else {
    progress_.Update(done);
  }
}

void ConsoleObserver::EndLine() { progress_.Finish(); }

void PrintSummary(std::FILE* out, const pipeline::RunSummary& s) {
  fmt::print(out, "\n=== Summary ===\n");
  fmt::print(out, "  selection: {:.2f} s{}\n  extraction: {:.2f} s ({} instances, {:.1f}/s, {} DICOM, {} JPEG)\n",
             s.select_s, s.resumed ? " (resumed from the journal)" : "", s.process_s, Thousands(s.processed),
             s.process_s > 0 ? s.processed / s.process_s : 0.0, FormatBytes(s.dicom_bytes), FormatBytes(s.jpg_bytes));
  fmt::print(out, "  CSV, metadata, packages, README: {:.2f} s\n  total: {:.2f} s\n", s.finalize_s, s.total_s);
  fmt::print(out, "  instances: {} in the sample, {} stored ({} by earlier runs), {} failed\n", Thousands(s.total),
             Thousands(s.stored), Thousands(s.already_stored), Thousands(s.failed));
  if (s.deid == "off") {
    fmt::print(out,
               "  de-identification: OFF (--deid off): files and reports are as they came, patient identity "
               "included; this dataset must not leave the hospital\n");
  } else {
    fmt::print(out, "  de-identification: {}\n", s.deid);
  }
  if (s.excluded > 0) {
    fmt::print(out,
               "  excluded: {} image(s) that may carry burned-in text (secondary capture, ultrasound, ...) were not "
               "stored (--burned-in keep stores them)\n",
               Thousands(s.excluded));
  }
  if (s.deid_replacements > 0) {
    fmt::print(out, "  de-identification: {} replacement(s) in report text\n", Thousands(s.deid_replacements));
  }
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
  fmt::print(out, "  CSV:    {}\n  README: {}\n  metadata: {}\n", s.csv_uri, s.readme_uri, s.metadata_uri);
  const auto& p = s.packages;
  if (!p.split_images.empty()) {
    std::string splits;
    for (const auto& [split, n] : p.split_images)
      splits += fmt::format("{}{} {}", splits.empty() ? "" : ", ", split, Thousands(n));
    fmt::print(out, "  splits (by patient): {}\n", splits);
  }
  if (p.llava_samples > 0) fmt::print(out, "  LLaVA: {} conversation(s)\n", Thousands(p.llava_samples));
  if (p.shards > 0) {
    fmt::print(out, "  WebDataset: {} shard(s), {:.1f} MB ({} written by this run{})\n", p.shards,
               static_cast<double>(p.shard_bytes) / 1e6, p.shards_written,
               p.shards_removed ? fmt::format(", {} of an older plan removed", p.shards_removed) : "");
  }
  if (s.failed > 0) {
    // Each failure was printed once as it happened (the first few); here they are counted by
    // reason, and the CSV has every one.
    std::string reasons;
    for (const auto& [code, n] : s.failures_by_code)
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", code, Thousands(n));
    fmt::print(out, "  failed by reason: {}\n  (the CSV's status and error columns list every failed instance)\n",
               reasons);
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
        {"excluded", s.excluded},
        {"duplicate_rows", s.duplicate_rows},
        {"pruned", s.pruned}}},
      {"bytes", {{"dicom", s.dicom_bytes}, {"jpeg", s.jpg_bytes}}},
      {"seconds", {{"select", s.select_s}, {"process", s.process_s}, {"finalize", s.finalize_s}, {"total", s.total_s}}},
      {"csv", s.csv_uri},
      {"readme", s.readme_uri},
      {"metadata", s.metadata_uri},
      {"packages",
       {{"split_images", s.packages.split_images},
        {"split_patients", s.packages.split_patients},
        {"llava_samples", s.packages.llava_samples},
        {"no_caption", s.packages.no_caption},
        {"shards", s.packages.shards},
        {"shards_written", s.packages.shards_written},
        {"shards_removed", s.packages.shards_removed},
        {"shard_bytes", s.packages.shard_bytes}}},
      {"failures", failures},
      {"failures_by_code", s.failures_by_code},
      {"excluded", s.excluded},
      {"deid", s.deid},
      {"deid_report_replacements", s.deid_replacements},
      {"failures_not_listed", s.failed - std::min(s.failed, s.failures.size())}};
  if (!s.upload.empty()) {
    nlohmann::json u = nlohmann::json::object();
    for (const auto& [k, v] : s.upload) u[k] = v;
    j["upload"] = u;
  }
  return j.dump(2);
}

}  // namespace eden::cli
