#include "pipeline/run.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <tuple>

#include <fmt/format.h>

#include "pipeline/dataset_writer.h"
#include "pipeline/journal.h"

namespace eden::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// Freezes the sample: study selection, statistics, then every page of rows.
Status Select(const RunOptions& options, source::PacsSource& source, Journal& journal, RunSummary& summary,
              RunObserver& observer) {
  auto studies = source.SelectStudies(options.selection);
  if (!studies) return Fail(studies.error());
  auto stats = source.Count(options.selection, *studies);
  if (!stats) return Fail(stats.error());
  summary.stats = *stats;
  observer.OnSelectionStats(*stats);
  std::vector<source::InstanceRow> rows;
  std::optional<std::string> after;
  for (int page = 1;; ++page) {
    auto batch = source.Page(options.selection, *studies, after, options.page_size);
    if (!batch) return Fail(batch.error());
    if (batch->empty()) break;
    after = batch->back().instance_id;
    for (auto& r : *batch) rows.push_back(std::move(r));
    observer.OnPage(page, rows.size());
    if (static_cast<int>(batch->size()) < options.page_size) break;
  }
  const auto& s = options.selection;
  return journal.Freeze(rows, {{"query", options.query_name},
                               {"studies", s.studies ? std::to_string(*s.studies) : "all"},
                               {"seed", s.seed},
                               {"modality", s.modality.value_or("-")},
                               {"body_part", s.body_part.value_or("-")},
                               {"frozen_at", NowIso()},
                               {"quality", std::to_string(options.convert.quality)},
                               {"max_size", std::to_string(options.convert.max_size)}});
}

/// A stored entry counts only if both its objects are still there with their recorded sizes
/// and, where the store keeps one (GCS), their recorded CRC-32C.
bool StillStored(const std::map<std::string, storage::ObjectInfo>& listing, const JournalEntry& e) {
  const auto& o = e.outcome;
  for (const auto& [key, size, crc] :
       {std::tuple{o.dicom_key, o.dicom_bytes, o.dicom_crc32c}, std::tuple{o.jpg_key, o.jpg_bytes, o.jpg_crc32c}}) {
    auto it = listing.find(key);
    if (it == listing.end() || it->second.size != size) return false;
    if (!it->second.crc32c.empty() && !crc.empty() && it->second.crc32c != crc) return false;
  }
  return true;
}

}  // namespace

Result<RunSummary> Run(const RunOptions& options,
                       const std::function<Result<std::unique_ptr<source::PacsSource>>()>& connect,
                       storage::ObjectStore& store, const StageFactories& factories, RunObserver& observer,
                       const Dispatcher& dispatch) {
  const auto start = Clock::now();
  RunSummary summary;
  auto journal = Journal::Open(options.journal_path);
  if (!journal) return Fail(journal.error());
  if (options.fresh) {
    if (auto ok = (*journal)->Reset(); !ok) return Fail(ok.error());
  }
  auto frozen = (*journal)->IsFrozen();
  if (!frozen) return Fail(frozen.error());
  if (auto ok = store.CheckWritable(); !ok) return Fail(ok.error());

  // 1. Selection: from the database the first time, from the journal after that.
  auto t = Clock::now();
  if (!*frozen) {
    auto source = connect();
    if (!source) return Fail(source.error());
    if (auto ok = Select(options, **source, **journal, summary, observer); !ok) return Fail(ok.error());
  } else {
    summary.resumed = true;
  }
  summary.select_s = SecondsSince(t);

  // 2. What is left to do: everything not stored, plus stored entries whose objects vanished.
  auto all = (*journal)->All();
  if (!all) return Fail(all.error());
  summary.total = all->size();
  std::vector<source::InstanceRow> pending;
  std::map<std::string, storage::ObjectInfo> listing;
  if (std::any_of(all->begin(), all->end(), [](const JournalEntry& e) { return e.state == "stored"; })) {
    auto listed = store.List(options.layout.prefix.empty() ? "" : options.layout.prefix + "/");
    if (!listed) return Fail(listed.error());
    listing = std::move(*listed);
  }
  for (const auto& e : *all) {
    if (e.state == "stored") {
      if (StillStored(listing, e)) {
        ++summary.already_stored;
        continue;
      }
      (void)(*journal)->Invalidate(e.row.instance_id);
    }
    pending.push_back(e.row);
  }
  if (summary.resumed) observer.OnResume(summary.total, summary.already_stored);

  // 3. Fetch, convert, store; outcomes go to the journal in small transactions.
  t = Clock::now();
  observer.OnPhase("extract", pending.size());
  std::vector<InstanceOutcome> batch;
  auto last_flush = Clock::now();
  Status journal_status;
  size_t done = 0;
  auto on_outcome = [&](InstanceOutcome&& o) {
    ++done;
    summary.dicom_bytes += o.downloaded ? o.dicom_bytes : 0;
    summary.jpg_bytes += o.stored ? o.jpg_bytes : 0;
    observer.OnOutcome(o, done, pending.size());
    batch.push_back(std::move(o));
    if (batch.size() >= 64 || SecondsSince(last_flush) > 1.0) {
      // Objects first, then the journal that vouches for them.
      if (journal_status) journal_status = store.Flush();
      if (journal_status) journal_status = (*journal)->Record(batch);
      batch.clear();
      last_flush = Clock::now();
    }
  };
  Status dispatch_status;
  if (dispatch) {
    dispatch_status = dispatch(pending, on_outcome);
  } else {
    RunInProcess(pending, options.executor, factories, store, options.layout, options.convert, on_outcome);
  }
  if (journal_status) journal_status = store.Flush();
  if (journal_status) journal_status = (*journal)->Record(batch);
  if (!journal_status) return Fail(journal_status.error());
  if (!dispatch_status) return Fail(dispatch_status.error());  // What did finish is journaled.
  summary.processed = pending.size();
  summary.process_s = SecondsSince(t);

  // 4. The CSV and README last: every object they name exists by now.
  t = Clock::now();
  observer.OnPhase("finalize", 2);
  all = (*journal)->All();
  if (!all) return Fail(all.error());
  for (const auto& e : *all) {
    if (e.state == "stored") {
      ++summary.stored;
    } else {
      ++summary.failed;
      summary.failures.push_back({e.row.instance_id, e.outcome.error_code + ": " + e.outcome.error_message});
    }
  }
  auto meta = (*journal)->Meta();
  if (!meta) return Fail(meta.error());
  // Rows grouped as a reader expects: by study, then series and instance number.
  std::stable_sort(all->begin(), all->end(), [](const JournalEntry& a, const JournalEntry& b) {
    return std::tie(a.row.study_id, a.row.series_number, a.row.instance_number, a.row.instance_id) <
           std::tie(b.row.study_id, b.row.series_number, b.row.instance_number, b.row.instance_id);
  });
  const std::string csv = BuildCsv(*all);
  const std::string readme = BuildDatasetReadme(*all, *meta, options.layout);
  auto as_bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  if (auto ok = store.Put(options.layout.CsvKey(), as_bytes(csv), "text/csv"); !ok) return Fail(ok.error());
  if (auto ok = store.Put(options.layout.ReadmeKey(), as_bytes(readme), "text/markdown"); !ok) return Fail(ok.error());
  if (auto ok = store.Flush(); !ok) return Fail(ok.error());
  summary.csv_uri = store.Uri(options.layout.CsvKey());
  summary.readme_uri = store.Uri(options.layout.ReadmeKey());
  summary.finalize_s = SecondsSince(t);
  summary.total_s = SecondsSince(start);
  summary.exit_code = summary.failed > 0 ? 1 : 0;
  return summary;
}

}  // namespace eden::pipeline
