#include "pipeline/run.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "digest/digest.h"
#include "pipeline/dataset_writer.h"
#include "pipeline/instance_task.h"
#include "pipeline/journal.h"
#include "pipeline/outage.h"
#include "source/pager.h"

namespace eden::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

/// Pending entries handed to the executor (or the broker) at a time: a few MB of rows.
constexpr size_t kChunkRows = 4096;
double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// What shapes the dataset, as the journal records it: a rerun with other values would mix two
/// datasets, so it must start over (--fresh) or use these.
std::map<std::string, std::string> SampleSettings(const RunOptions& options) {
  const auto& s = options.selection;
  return {{"query", options.query_name},
          {"query_sha256", digest::Sha256Hex(s.base_sql)},
          {"studies", s.studies ? std::to_string(*s.studies) : "all"},
          {"seed", s.seed},
          {"modality", s.modality.value_or("-")},
          {"body_part", s.body_part.value_or("-")},
          {"frozen_at", NowIso()},
          {"quality", std::to_string(options.convert.quality)},
          {"max_size", std::to_string(options.convert.max_size)},
          {"window", options.convert.render.window ? fmt::format("{:g}/{:g}", options.convert.render.window->center,
                                                                 options.convert.render.window->width)
                                                   : "-"},
          {"deid", options.deid},
          {"render", options.convert.render.mode == imaging::RenderMode::kMimic ? "mimic" : "display"}};
}

/// The differences between the settings a journal froze and this run's, one line each, as the
/// user would fix them. Keys an older journal did not record are not compared.
std::vector<std::string> SettingsDifferences(const std::map<std::string, std::string>& frozen,
                                             const std::map<std::string, std::string>& now) {
  static const std::vector<std::pair<std::string, std::string>> kShown = {
      {"query", "--query"},
      {"query_sha256", "the query's text"},
      {"studies", "--studies/--all-studies"},
      {"seed", "--seed"},
      {"modality", "--modality"},
      {"body_part", "--body-part"},
      {"quality", "--quality"},
      {"max_size", "--max-size"},
      {"window", "--window"},
      {"deid", "de-identification (--deid, --deid-option, the key, --burned-in)"},
      {"render", "--render"}};
  std::vector<std::string> out;
  const bool sampled = now.at("studies") != "all" || (frozen.count("studies") && frozen.at("studies") != "all");
  for (const auto& [key, flag] : kShown) {
    auto it = frozen.find(key);
    // A journal from before a setting existed made the dataset as that setting's old behaviour
    // did: compared against it.
    if (it == frozen.end()) {
      static const std::map<std::string, std::string> kBefore = {{"deid", "off"}, {"render", "display"}};
      auto before = kBefore.find(key);
      if (before != kBefore.end() && now.at(key) != before->second) {
        out.push_back(fmt::format("{}: frozen {}, now {}", flag, before->second, now.at(key)));
      }
      continue;
    }
    if (it->second == now.at(key)) continue;
    if (key == "seed" && !sampled) continue;  // Every study: the seed chooses nothing.
    if (key == "query_sha256" && frozen.at("query") != now.at("query")) continue;  // Said by --query.
    out.push_back(key == "query_sha256" ? fmt::format("{} changed since the sample was frozen", flag)
                                        : fmt::format("{}: frozen {}, now {}", flag, it->second, now.at(key)));
  }
  return out;
}

/// Freezes the sample: study selection, statistics, then every page of rows, each page
/// streamed into the journal.
Status Select(const RunOptions& options, source::PacsSource& source, Journal& journal, RunSummary& summary,
              RunObserver& observer, bool append = false) {
  // Every study: no sampling query, and no study ids held (the pages walk the whole selection).
  Result<std::vector<std::string>> studies = std::vector<std::string>{};
  if (options.selection.studies) studies = source.SelectStudies(options.selection);
  if (!studies) return Fail(studies.error());
  auto stats = source.Count(options.selection, *studies);
  if (!stats) return Fail(stats.error());
  summary.stats = *stats;
  observer.OnSelectionStats(*stats);
  if (stats->instances == 0) {
    // A filter that matches nothing (a typo in --modality) is an answer the user must see, not
    // an empty dataset written with exit 0.
    const auto& sel = options.selection;
    return Fail(ErrorCode::kEmptySelection,
                fmt::format("no studies match the selection (query {}{}{}): nothing was written", options.query_name,
                            sel.modality ? ", --modality " + *sel.modality : "",
                            sel.body_part ? ", --body-part " + *sel.body_part : ""));
  }
  source::Pager pager(source, options.selection, std::move(*studies), *stats, options.page_size);
  int page = 0;
  size_t rows_so_far = 0;
  auto next_page = [&]() -> Result<std::vector<source::InstanceRow>> {
    auto batch = pager.Next();
    if (batch && !batch->empty()) {
      rows_so_far += batch->size();
      observer.OnPage(++page, rows_so_far);
    }
    return batch;
  };
  if (append) {
    // --incremental: the studies of the selection the dataset does not hold yet.
    auto added = journal.Append(next_page);
    if (!added) return Fail(added.error());
    summary.added_instances = added->rows;
    summary.added_studies = added->studies;
    observer.OnSelected(added->rows);
    return journal.SetMeta("finalized", added->rows > 0 ? "0" : "1");
  }
  auto settings = SampleSettings(options);
  settings["prune"] = options.fresh ? "1" : "0";  // Until done: a killed run prunes on its rerun.
  settings["finalized"] = "0";
  auto frozen = journal.Freeze(next_page, settings);
  if (!frozen) return Fail(frozen.error());
  summary.duplicate_rows = frozen->duplicates;
  summary.added_instances = frozen->rows;
  summary.added_studies = stats->studies;
  observer.OnSelected(rows_so_far - frozen->duplicates);
  summary.duplicate_examples = std::move(frozen->duplicate_examples);
  return {};
}

/// Writes the CSV to `path` from the journal, one entry at a time, gathering the README's
/// counts and the failures on the way, and handing each entry to the package writer.
Status WriteCsv(Journal& journal, const std::filesystem::path& path, bool deid, const PackageOptions& packages,
                PackageWriter& writer, DatasetStats& stats, RunSummary& summary) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", path.string()));
  std::string buffer = CsvHeader();
  auto visited = WalkDataset(journal, packages, deid, [&](const DatasetRow& row) {
    const JournalEntry& e = row.entry;
    stats.Add(e);
    writer.Add(row);
    if (e.state != State::kStored && e.state != State::kExcluded && summary.failures.size() < kListedFailures) {
      summary.failures.push_back(
          {e.row.instance_id, fmt::format("{}: {}", e.outcome.ErrorCodeText(), e.outcome.ErrorText())});
    }
    AppendCsvRow(buffer, e, deid, row.split, &row.sections);
    if (buffer.size() >= (size_t{1} << 20)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  });
  if (!visited) return visited;
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.close();
  if (!out) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", path.string()));
  return {};
}

/// After a --fresh run: removes (or moves aside) the objects in the dataset's folders that an
/// older sample stored and this one does not name, so the folders hold this dataset only.
/// Names that are not `<id>.dcm` / `<id>.jpg` (not eden's) are left alone.
Status PruneOlderSample(const RunOptions& options, Journal& journal, storage::ObjectStore& store,
                        const std::map<std::string, std::string>& meta, RunSummary& summary) {
  auto it = meta.find("prune");
  if (it == meta.end() || it->second != "1") return {};
  const DatasetLayout& layout = options.layout;
  struct Folder {
    std::string prefix, suffix;
  };
  const std::vector<Folder> folders = {{layout.DicomFolder(), ".dcm"}, {layout.JpegFolder(), ".jpg"}};
  std::string stamp = meta.count("frozen_at") ? meta.at("frozen_at") : "previous";
  for (char& c : stamp) c = c == ':' ? '-' : c;
  const std::string old_root = (layout.prefix.empty() ? "" : layout.prefix + "/") + "old-samples/" + stamp + "/";
  for (const Folder& folder : folders) {
    std::vector<std::string> ids;
    auto listed = store.ForEach(folder.prefix, [&](const std::string& key, const storage::ObjectInfo&) {
      const std::string name = key.substr(folder.prefix.size());
      if (name.find('/') == std::string::npos && name.size() > folder.suffix.size() &&
          name.compare(name.size() - folder.suffix.size(), folder.suffix.size(), folder.suffix) == 0) {
        ids.push_back(name.substr(0, name.size() - folder.suffix.size()));
      }
    });
    if (!listed) return listed;
    auto stale = journal.NotInSample(ids);
    if (!stale) return Fail(stale.error());
    for (const std::string& id : *stale) {
      const std::string key = folder.prefix + id + folder.suffix;
      if (options.keep_old) {
        auto bytes = store.Get(key);
        if (!bytes) return Fail(bytes.error());
        const std::string moved = old_root + key.substr(layout.prefix.empty() ? 0 : layout.prefix.size() + 1);
        if (auto ok = store.Put(moved, *bytes, folder.suffix == ".dcm" ? "application/dicom" : "image/jpeg"); !ok) {
          return ok;
        }
      }
      if (auto ok = store.Delete(key); !ok) return ok;
      ++summary.pruned;
    }
  }
  if (options.keep_old && summary.pruned > 0) summary.old_samples = store.Uri(old_root);
  if (auto ok = store.Flush(); !ok) return ok;
  return journal.SetMeta("prune", "0");
}

/// The finished-run time a journal records ("" if none or unreadable).
std::string FinalizedAt(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  auto journal = Journal::OpenForReading(path);
  if (!journal) return {};
  auto meta = (*journal)->Meta();
  if (!meta || !meta->count("frozen") || !meta->count("finalized_at")) return {};
  return meta->at("finalized_at");
}

/// Takes the dataset's record (the journal copy in the destination) in place of the local
/// journal when the local one is missing or older: another machine ran last.
Status AdoptRecord(const RunOptions& options, storage::ObjectStore& store) {
  auto info = store.Stat(options.record_key);
  if (!info) return Fail(info.error());
  if (!*info) return {};
  auto bytes = store.Get(options.record_key);
  if (!bytes) return Fail(bytes.error());
  const std::filesystem::path fetched = options.journal_path.string() + ".record.tmp";
  std::error_code ec;
  std::filesystem::create_directories(options.journal_path.parent_path(), ec);
  {
    std::ofstream out(fetched, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    if (!out) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", fetched.string()));
  }
  const std::string theirs = FinalizedAt(fetched), ours = FinalizedAt(options.journal_path);
  if (!theirs.empty() && theirs > ours) {
    for (const char* side : {"-wal", "-shm"}) std::filesystem::remove(options.journal_path.string() + side, ec);
    std::filesystem::rename(fetched, options.journal_path, ec);
    if (ec)
      return Fail(ErrorCode::kIo, fmt::format("cannot replace {}: {}", options.journal_path.string(), ec.message()));
  } else {
    std::filesystem::remove(fetched, ec);
  }
  return {};
}

}  // namespace

Result<RunSummary> Run(const RunOptions& options,
                       const std::function<Result<std::unique_ptr<source::PacsSource>>()>& connect,
                       storage::ObjectStore& store, const StageFactories& factories, RunObserver& observer,
                       const Dispatcher& dispatch) {
  const auto start = Clock::now();
  RunSummary summary;
  summary.deid = options.deid;
  // The destination first: an output folder that cannot be written is named as such (exit 3),
  // not reported as a journal that SQLite cannot open inside it.
  if (auto ok = store.CheckWritable(); !ok) return Fail(ok.error());
  // The record is read when this machine has no finished journal of its own, or when an
  // incremental run must see what another machine added since.
  if (!options.record_key.empty() && !options.fresh &&
      (options.incremental || FinalizedAt(options.journal_path).empty())) {
    if (auto ok = AdoptRecord(options, store); !ok) return Fail(ok.error());
  }
  auto journal = Journal::Open(options.journal_path);
  if (!journal) return Fail(journal.error());
  if (options.fresh) {
    if (auto ok = (*journal)->Reset(); !ok) return Fail(ok.error());
  }
  auto frozen = (*journal)->IsFrozen();
  if (!frozen) return Fail(frozen.error());

  // 1. Selection: from the database the first time, from the journal after that.
  auto t = Clock::now();
  if (!*frozen) {
    auto source = connect();
    if (!source) return Fail(source.error());
    if (auto ok = Select(options, **source, **journal, summary, observer); !ok) return Fail(ok.error());
  } else {
    summary.resumed = true;
    auto meta = (*journal)->Meta();
    if (!meta) return Fail(meta.error());
    if (auto differences = SettingsDifferences(*meta, SampleSettings(options)); !differences.empty()) {
      std::string text;
      for (const auto& d : differences) text += "\n  " + d;
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("this output holds a sample frozen with other settings:{}\nRerun with --fresh to start "
                              "over with the new settings, or with the frozen values to resume.",
                              text));
    }
    if (auto it = meta->find("duplicate_rows"); it != meta->end()) {
      summary.duplicate_rows = std::strtoull(it->second.c_str(), nullptr, 10);
    }
    if (options.incremental) {
      const bool finalized = meta->count("finalized") && meta->at("finalized") == "1";
      auto source = connect();
      if (!source) return Fail(source.error());
      if (auto ok = Select(options, **source, **journal, summary, observer, /*append=*/true); !ok) {
        return Fail(ok.error());
      }
      if (summary.added_instances == 0 && finalized) {
        // Nothing new since a run that finished: nothing is downloaded, retried or rewritten.
        summary.nothing_new = true;
        auto counts = (*journal)->Count();
        if (!counts) return Fail(counts.error());
        summary.total = counts->total;
        summary.stored = counts->stored;
        summary.excluded = counts->excluded;
        summary.select_s = SecondsSince(t);
        summary.total_s = SecondsSince(start);
        return summary;
      }
    }
  }
  summary.select_s = SecondsSince(t);

  // 2. What is left to do: everything not stored, plus stored entries whose objects vanished
  // (checked against one listing of the destination, joined in the journal, not in memory).
  auto counts = (*journal)->Count();
  if (!counts) return Fail(counts.error());
  summary.total = counts->total;
  if (counts->stored > 0) {
    const std::string prefix = options.layout.prefix.empty() ? "" : options.layout.prefix + "/";
    auto kept = (*journal)->ReconcileStored(
        [&](const storage::ObjectStore::Visitor& visit) { return store.ForEach(prefix, visit); });
    if (!kept) return Fail(kept.error());
    summary.already_stored = *kept;
  }
  summary.excluded = counts->excluded;
  const size_t pending = summary.total - summary.already_stored - counts->excluded;
  if (summary.resumed) observer.OnResume(summary.total, summary.already_stored);

  // 3. Fetch, convert, store every pending row; outcomes go to the journal in small transactions.
  t = Clock::now();
  observer.OnPhase("extract", pending);
  std::vector<InstanceOutcome> batch;
  auto last_flush = Clock::now();
  Status journal_status;
  size_t done = 0;
  OutageDetector outage;
  // No further row once an outage is clear, or once the journal cannot record what finishes
  // (the work would be lost and redone).
  auto stop = [&] { return outage.tripped() || !journal_status; };
  auto on_outcome = [&](InstanceOutcome&& o) {
    ++done;
    outage.Observe(o);
    summary.dicom_bytes += o.downloaded ? o.dicom_bytes : 0;
    summary.jpg_bytes += o.stored ? o.jpg_bytes : 0;
    observer.OnOutcome(o, done, pending);
    batch.push_back(std::move(o));
    if (batch.size() >= 64 || SecondsSince(last_flush) > 1.0) {
      // Objects first, then the journal that vouches for them.
      if (journal_status) journal_status = store.Flush();
      if (journal_status) journal_status = (*journal)->Record(batch);
      batch.clear();
      last_flush = Clock::now();
    }
  };
  // One executor for the whole run, fed from the journal a page at a time (memory does not grow
  // with the sample); it delivers outcomes on this thread while it waits for room.
  std::unique_ptr<Executor> executor;
  if (dispatch) {
    executor = MakeBatchExecutor(dispatch, on_outcome, stop, kChunkRows);
  } else {
    executor = MakeInProcessExecutor(options.executor.SizedFor(pending), factories, store, options.layout,
                                     options.convert, on_outcome, stop);
  }
  Status dispatch_status;
  for (int64_t after_seq = -1;;) {
    auto page = (*journal)->PendingAfter(after_seq, kChunkRows);
    if (!page) {
      dispatch_status = Fail(page.error());  // Stop, but journal what did finish first.
      break;
    }
    if (page->empty()) break;
    after_seq = page->back().seq;
    bool taken = true;
    for (auto& e : *page) {
      if (!(taken = executor->Submit(std::move(e.row)))) break;
    }
    if (!taken) break;
  }
  if (auto finished = executor->Finish(); !finished && dispatch_status) dispatch_status = Fail(finished.error());
  executor.reset();
  if (journal_status) journal_status = store.Flush();
  if (journal_status) journal_status = (*journal)->Record(batch);
  if (!journal_status) return Fail(journal_status.error());
  if (!dispatch_status) return Fail(dispatch_status.error());  // What did finish is journaled.
  if (outage.tripped()) return Fail(ErrorCode::kUnavailable, outage.Describe(pending - done, pending));
  summary.processed = done;
  summary.process_s = SecondsSince(t);

  // 4. The CSV and README last: every object they name exists by now.
  t = Clock::now();
  observer.OnPhase("finalize", 2);
  auto meta = (*journal)->Meta();
  if (!meta) return Fail(meta.error());
  DatasetStats stats;
  const bool deid = options.deid != "off";
  const std::filesystem::path csv_path = options.journal_path.string() + ".csv.tmp";
  PackageWriter packages(options.packages, options.layout, options.journal_path);
  if (auto ok = packages.Open(); !ok) return Fail(ok.error());
  if (auto ok = WriteCsv(**journal, csv_path, deid, options.packages, packages, stats, summary); !ok) {
    return Fail(ok.error());
  }
  summary.stored = stats.stored;
  summary.failed = stats.failed;
  summary.excluded = stats.excluded;
  summary.deid_replacements = stats.deid_replacements;
  summary.failures_by_code = stats.errors;
  auto packaged = packages.Finish(**journal, deid, store);
  if (!packaged) return Fail(packaged.error());
  summary.packages = *packaged;
  CardPackages card;
  card.split_spec = options.packages.split.parts;
  card.split_images = packaged->split_images;
  card.split_patients = packaged->split_patients;
  card.split_shards = packaged->split_shards;
  card.webdataset = options.packages.webdataset;
  card.llava = options.packages.llava;
  card.shard_bytes_limit = options.packages.shard_bytes;
  card.shard_samples_limit = options.packages.shard_samples;
  card.shard_bytes = packaged->shard_bytes;
  card.shards = packaged->shards;
  card.llava_samples = packaged->llava_samples;
  card.no_caption = packaged->no_caption;
  card.instruction = options.packages.instruction;
  card.render = options.packages.render;
  const std::string readme = BuildDatasetReadme(stats, *meta, options.layout, card);
  auto as_bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto csv_stored = store.PutFile(options.layout.CsvKey(), csv_path, "text/csv");
  std::error_code ignored;
  std::filesystem::remove(csv_path, ignored);
  if (!csv_stored) return Fail(csv_stored.error());
  if (auto ok = store.Put(options.layout.ReadmeKey(), as_bytes(readme), "text/markdown"); !ok) return Fail(ok.error());
  if (auto ok = store.Flush(); !ok) return Fail(ok.error());
  if (auto ok = PruneOlderSample(options, **journal, store, *meta, summary); !ok) return Fail(ok.error());
  // A run that changed the dataset (instances added or newly stored, objects pruned) updates
  // the record; one that only retried failures that failed again leaves it: a rerun with
  // nothing to do writes nothing.
  bool changed = summary.added_instances > 0 || summary.stored != summary.already_stored || summary.pruned > 0;
  if (!changed && !options.record_key.empty()) {
    auto record = store.Stat(options.record_key);
    if (!record) return Fail(record.error());
    changed = !record->has_value();  // A dataset from before records were kept.
  }
  if (auto ok = (*journal)->SetMeta("finalized", "1"); !ok) return Fail(ok.error());
  if (changed) {
    if (auto ok = (*journal)->SetMeta("finalized_at", NowIso()); !ok) return Fail(ok.error());
  }
  if (!options.record_key.empty() && changed) {
    // The dataset's own record (a copy of the journal in the destination): a run on another
    // machine, --incremental or a resume, continues from it.
    const std::filesystem::path copy = options.journal_path.string() + ".record.tmp";
    Status kept = (*journal)->BackupTo(copy);
    if (kept) kept = store.PutFile(options.record_key, copy, "application/vnd.sqlite3");
    if (kept) kept = store.Flush();
    std::error_code ignored_error;
    std::filesystem::remove(copy, ignored_error);
    if (!kept) return Fail(kept.error());
  }
  summary.csv_uri = store.Uri(options.layout.CsvKey());
  summary.readme_uri = store.Uri(options.layout.ReadmeKey());
  summary.metadata_uri = store.Uri(options.layout.MetadataKey());
  summary.finalize_s = SecondsSince(t);
  summary.total_s = SecondsSince(start);
  summary.exit_code = summary.failed > 0 ? 1 : 0;
  return summary;
}

}  // namespace eden::pipeline
