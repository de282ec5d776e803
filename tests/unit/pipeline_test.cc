#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "dicom/dcmtk_decoder.h"
#include "digest/digest.h"
#include "fake_pacs_source.h"
#include "jpeg/turbojpeg_encoder.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/dataset_writer.h"
#include "pipeline/executor.h"
#include "pipeline/journal.h"
#include "pipeline/outage.h"
#include "pipeline/run.h"
#include "storage/local_object_store.h"

namespace eden::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("eden-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

source::InstanceRow Row(const std::string& id, const std::string& url) {
  source::InstanceRow r;
  r.study_id = "study-1";
  r.instance_id = id;
  r.series_number = 1;
  r.instance_number = 7;
  r.file_url = url;
  r.report_value = "Findings, \"quoted\"\nsecond line, naïve";
  return r;
}

TEST(Csv, QuotesPerRfc4180) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST(Csv, SeedColumnsComeFirstInTheSeedsOrder) {
  const std::string header = CsvHeader().substr(0, CsvHeader().find("\r\n"));
  EXPECT_EQ(header.rfind("study_id,series_number,instance_id,instance_number,file_path,file_url,report_value,"
                         "field_created_at,downloaded,local_file_path,",
                         0),
            0u);
}

TEST(Csv, RowsCarryOutcomesAndNullsAsEmpty) {
  JournalEntry e;
  e.row = Row("i1", "http://x/1");
  e.row.file_path.reset();
  e.state = State::kFailed;
  e.outcome.SetErrorFromText("not_found", "HTTP 404");
  std::string line;
  AppendCsvRow(line, e);
  EXPECT_EQ(line.rfind("study-1,1,i1,7,,http://x/1,\"Findings, \"\"quoted\"\"\nsecond line, naïve\",,False,,failed,"
                       "not_found: HTTP 404,",
                       0),
            0u)
      << line;
}

std::vector<std::string> PendingIds(Journal& j, int64_t after = -1, size_t limit = 100) {
  std::vector<std::string> ids;
  const auto page = j.PendingAfter(after, limit);
  for (const auto& e : *page) ids.push_back(e.row.instance_id);
  return ids;
}

InstanceOutcome StoredOutcome(const std::string& id, uint64_t dicom_bytes, uint64_t jpg_bytes) {
  InstanceOutcome o;
  o.instance_id = id;
  o.stored = o.downloaded = true;
  o.dicom_key = "p/dicom-files/" + id + ".dcm";
  o.jpg_key = "p/images-jpg/" + id + ".jpg";
  o.dicom_bytes = dicom_bytes;
  o.jpg_bytes = jpg_bytes;
  o.jpg_crc32c = "AAAAAA==";
  o.jpg_sha256 = "abc";
  return o;
}

TEST(Outcome, StepsStatesAndCodesAreTypesInsideAndTextAtTheEdges) {
  InstanceOutcome o;
  o.instance_id = "i1";
  EXPECT_EQ(o.ErrorText(), "");
  EXPECT_EQ(o.ErrorCodeText(), "");
  o.Fail(Step::kStoreJpeg, Error(ErrorCode::kUnavailable, "bucket unreachable"));
  EXPECT_TRUE(o.FailedAt(Step::kStoreJpeg));
  EXPECT_FALSE(o.FailedAt(Step::kStoreDicom));
  EXPECT_TRUE(o.FailedWith(ErrorCode::kUnavailable));
  EXPECT_EQ(o.ErrorCodeText(), "unavailable");
  EXPECT_EQ(o.ErrorText(), "store JPEG: bucket unreachable");
  // The edges' text reads back into the same types, for every step.
  for (Step step : {Step::kNone, Step::kDownload, Step::kConvert, Step::kStoreDicom, Step::kStoreJpeg}) {
    InstanceOutcome a;
    a.Fail(step, Error(ErrorCode::kCorruptPixelData, "a reason: with a colon"));
    InstanceOutcome b;
    b.SetErrorFromText(a.ErrorCodeText(), a.ErrorText());
    EXPECT_EQ(b.failed_step, step) << StepName(step);
    ASSERT_TRUE(b.error.has_value());
    EXPECT_EQ(b.error->code(), ErrorCode::kCorruptPixelData);
    EXPECT_EQ(b.error->message(), "a reason: with a colon");
  }
  // A code this build does not know (a newer worker) is kept in the text, as internal.
  InstanceOutcome future;
  future.SetErrorFromText("quota_exceeded", "convert: too many");
  EXPECT_EQ(future.failed_step, Step::kConvert);
  EXPECT_EQ(future.ErrorCodeText(), "internal");
  EXPECT_EQ(future.ErrorText(), "convert: quota_exceeded: too many");
  for (State state : {State::kPending, State::kStored, State::kFailed, State::kExcluded})
    EXPECT_EQ(ParseState(StateName(state)), state);
  EXPECT_EQ(ParseState("something else"), State::kPending);
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(ParseErrorCode(ErrorCodeName(code)), code) << ErrorCodeName(code);
  }
}

TEST(Journal, RecordsTypedFailuresAndReadsThemBack) {
  const auto dir = TempDir("journal-typed");
  auto j = Journal::Open(dir / "j.sqlite");
  ASSERT_TRUE(j.has_value()) << j.error().ToString();
  ASSERT_TRUE((*j)->Freeze({Row("a", "u1"), Row("b", "u2")}, {{"seed", "s"}}).has_value());
  InstanceOutcome failed;
  failed.instance_id = "a";
  failed.downloaded = true;
  failed.Fail(Step::kConvert, Error(ErrorCode::kMalformed, "unreadable data set"));
  ASSERT_TRUE((*j)->Record({failed, StoredOutcome("b", 1, 2)}).has_value());
  std::map<std::string, JournalEntry> all;
  ASSERT_TRUE((*j)->ForEachInCsvOrder([&](const JournalEntry& e) { all[e.row.instance_id] = e; }).has_value());
  EXPECT_EQ(all["a"].state, State::kFailed);
  EXPECT_TRUE(all["a"].outcome.FailedAt(Step::kConvert));
  EXPECT_TRUE(all["a"].outcome.FailedWith(ErrorCode::kMalformed));
  EXPECT_EQ(all["a"].outcome.error->message(), "unreadable data set");
  EXPECT_EQ(all["b"].state, State::kStored);
  EXPECT_FALSE(all["b"].outcome.error.has_value());
  fs::remove_all(dir);
}

TEST(Journal, ExcludedAndDeidentifiedOutcomesRoundTripAndTheFileIsTheOwnersOnly) {
  const auto dir = TempDir("journal-deid");
  auto j = Journal::Open(dir / "state" / "j.sqlite");
  ASSERT_TRUE(j.has_value()) << j.error().ToString();
  EXPECT_EQ(fs::status(dir / "state").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir / "state" / "j.sqlite").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE((*j)->Freeze({Row("a", "u1"), Row("b", "u2")}, {{"seed", "s"}}).has_value());
  InstanceOutcome excluded;
  excluded.instance_id = "a";
  excluded.Fail(Step::kDeidentify, Error(ErrorCode::kExcluded, "may carry burned-in text"));
  excluded.excluded = true;
  excluded.patient = "EDEN-0011223344556677";
  excluded.deid_report = "seen by [NAME]";
  excluded.deid_replacements = 1;
  ASSERT_TRUE((*j)->Record({excluded}).has_value());
  std::map<std::string, JournalEntry> all;
  ASSERT_TRUE((*j)->ForEachInCsvOrder([&](const JournalEntry& e) { all[e.row.instance_id] = e; }).has_value());
  EXPECT_EQ(all["a"].state, State::kExcluded);
  EXPECT_TRUE(all["a"].outcome.excluded);
  EXPECT_EQ(all["a"].outcome.patient, "EDEN-0011223344556677");
  EXPECT_EQ(all["a"].outcome.deid_report, "seen by [NAME]");
  EXPECT_EQ(all["a"].outcome.deid_replacements, 1u);
  EXPECT_TRUE(all["a"].outcome.FailedAt(Step::kDeidentify));
  // Excluded is done: not pending again, and counted apart.
  auto pending = (*j)->PendingAfter(-1, 10);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().row.instance_id, "b");
  auto counts = (*j)->Count();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->excluded, 1u);
  fs::remove_all(dir);
}

TEST(Journal, FreezeRecordResumeReset) {
  const auto dir = TempDir("journal");
  auto j = Journal::Open(dir / "j.sqlite");
  ASSERT_TRUE(j.has_value()) << j.error().ToString();
  EXPECT_FALSE(*(*j)->IsFrozen());
  ASSERT_TRUE((*j)->Freeze({Row("b", "u1"), Row("a", "u2")}, {{"seed", "s"}}).has_value());
  EXPECT_TRUE(*(*j)->IsFrozen());
  EXPECT_EQ((*j)->Meta()->at("seed"), "s");
  auto pending = (*j)->PendingAfter(-1, 10);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].row.instance_id, "b");  // Sample order, not id order.
  EXPECT_EQ((*pending)[0].row.report_value, Row("b", "").report_value);
  ASSERT_TRUE((*j)->Record({StoredOutcome("b", 10, 20)}).has_value());
  j->reset();
  // Reopen, as a rerun would.
  auto again = Journal::Open(dir / "j.sqlite");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(PendingIds(**again), std::vector<std::string>{"a"});
  EXPECT_EQ((*again)->Count()->total, 2u);
  EXPECT_EQ((*again)->Count()->stored, 1u);
  std::vector<JournalEntry> all;
  ASSERT_TRUE((*again)->ForEachInCsvOrder([&](const JournalEntry& e) { all.push_back(e); }).has_value());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].row.instance_id, "a");  // CSV order: same study and series, then instance number, then id.
  EXPECT_EQ(all[1].outcome.jpg_sha256, "abc");
  EXPECT_EQ(all[1].attempts, 1);
  ASSERT_TRUE((*again)->Reset().has_value());
  EXPECT_FALSE(*(*again)->IsFrozen());
  fs::remove_all(dir);
}

TEST(Journal, FreezesPageByPageAndKeepsNothingWhenAPageFails) {
  const auto dir = TempDir("journal-pages");
  auto j = Journal::Open(dir / "j.sqlite");
  ASSERT_TRUE(j.has_value());
  int calls = 0;
  auto failing = [&]() -> Result<std::vector<source::InstanceRow>> {
    if (++calls == 1) return std::vector<source::InstanceRow>{Row("x1", "u"), Row("x2", "u")};
    return Fail(ErrorCode::kUnavailable, "database went away");
  };
  auto failed = (*j)->Freeze(failing, {{"seed", "s"}});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(*(*j)->IsFrozen());
  EXPECT_EQ((*j)->Count()->total, 0u);

  int page = 0;
  auto pages = [&]() -> Result<std::vector<source::InstanceRow>> {
    std::vector<source::InstanceRow> rows;
    if (page < 3) {
      for (int i = 0; i < 2; ++i) rows.push_back(Row("p" + std::to_string(page) + "-" + std::to_string(i), "u"));
    }
    ++page;
    return rows;
  };
  ASSERT_TRUE((*j)->Freeze(pages, {}).has_value());
  EXPECT_EQ(page, 4);  // Called until an empty page.
  EXPECT_EQ((*j)->Count()->total, 6u);
  // Keyset pages of the work left: recording an outcome does not shift the next page.
  auto first = (*j)->PendingAfter(-1, 4);
  ASSERT_EQ(first->size(), 4u);
  ASSERT_TRUE((*j)->Record({StoredOutcome("p0-0", 1, 1), StoredOutcome("p0-1", 1, 1)}).has_value());
  EXPECT_EQ(PendingIds(**j, first->back().seq, 4), (std::vector<std::string>{"p2-0", "p2-1"}));
  EXPECT_EQ(PendingIds(**j), (std::vector<std::string>{"p1-0", "p1-1", "p2-0", "p2-1"}));
  fs::remove_all(dir);
}

TEST(Journal, ReconcileKeepsOnlyEntriesWhoseObjectsAreListedIntact) {
  const auto dir = TempDir("journal-reconcile");
  auto j = Journal::Open(dir / "j.sqlite");
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE((*j)->Freeze({Row("a", "u"), Row("b", "u"), Row("c", "u"), Row("d", "u")}, {}).has_value());
  ASSERT_TRUE(
      (*j)->Record({StoredOutcome("a", 10, 20), StoredOutcome("b", 10, 20), StoredOutcome("c", 10, 20)}).has_value());
  using Listing = std::vector<std::pair<std::string, storage::ObjectInfo>>;
  auto lister = [](Listing listing) {
    return [listing](const storage::ObjectStore::Visitor& visit) -> Status {
      for (const auto& [key, info] : listing) visit(key, info);
      return {};
    };
  };
  const Listing listing = {
      {"p/dicom-files/a.dcm", {10, ""}}, {"p/images-jpg/a.jpg", {20, "AAAAAA=="}},  // intact
      {"p/dicom-files/b.dcm", {10, ""}}, {"p/images-jpg/b.jpg", {19, ""}},          // JPEG shorter
      {"p/dicom-files/c.dcm", {10, ""}}, {"p/images-jpg/c.jpg", {20, "AQIDBA=="}},  // JPEG CRC differs
  };
  auto kept = (*j)->ReconcileStored(lister(listing));
  ASSERT_TRUE(kept.has_value()) << kept.error().ToString();
  EXPECT_EQ(*kept, 1u);
  EXPECT_EQ(PendingIds(**j), (std::vector<std::string>{"b", "c", "d"}));
  // A listing that fails changes nothing.
  auto broken = (*j)->ReconcileStored(
      [](const storage::ObjectStore::Visitor&) -> Status { return Fail(ErrorCode::kUnavailable, "listing failed"); });
  EXPECT_FALSE(broken.has_value());
  EXPECT_EQ((*j)->Count()->stored, 1u);
  // Nothing listed: nothing stays stored.
  EXPECT_EQ(*(*j)->ReconcileStored(lister({})), 0u);
  fs::remove_all(dir);
}

TEST(BoundedQueue, BlocksWhenFullAndDrainsAfterClose) {
  BoundedQueue<int> q(2);
  q.Push(1);
  q.Push(2);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.Push(3);
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());  // Capacity 2: the third push waits.
  EXPECT_EQ(q.Pop(), 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  q.Close();
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), 3);
  EXPECT_FALSE(q.Pop().has_value());
}

/// In-memory Fetcher: URLs map to bytes; anything else is a 404.
class InMemoryFetcher final : public fetch::Fetcher {
 public:
  explicit InMemoryFetcher(const std::map<std::string, std::vector<uint8_t>>& files) : files_(files) {}
  Result<Bytes> Fetch(const std::string& url) override {
    auto it = files_.find(url);
    if (it == files_.end()) return Fail(ErrorCode::kNotFound, "HTTP 404");
    return Bytes(it->second.begin(), it->second.end());
  }

 private:
  const std::map<std::string, std::vector<uint8_t>>& files_;
};

TEST(Executor, EveryRowGetsExactlyOneOutcome) {
  std::ifstream in("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", std::ios::binary);
  const std::vector<uint8_t> ct{std::istreambuf_iterator<char>(in), {}};
  const std::map<std::string, std::vector<uint8_t>> files = {{"mem://ct", ct}, {"mem://text", {'h', 'i'}}};
  std::vector<source::InstanceRow> rows;
  for (int i = 0; i < 20; ++i) rows.push_back(Row("ok-" + std::to_string(i), "mem://ct"));
  rows.push_back(Row("gone", "mem://missing"));
  rows.push_back(Row("text", "mem://text"));
  rows.push_back(Row("../evil", "mem://ct"));
  auto no_url = Row("nourl", "");
  no_url.file_url.reset();
  rows.push_back(no_url);

  const auto dir = TempDir("executor");
  storage::LocalObjectStore store(dir);
  const dicom::DcmtkDecoder decoder;
  StageFactories f;
  f.make_fetcher = [&] { return std::make_unique<InMemoryFetcher>(files); };
  f.make_converter = [&] { return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder()); };
  std::map<std::string, InstanceOutcome> seen;
  RunInProcess(rows, {3, 2}, f, store, DatasetLayout{}, {}, [&](InstanceOutcome&& o) {
    EXPECT_EQ(seen.count(o.instance_id), 0u) << "two outcomes for " << o.instance_id;
    seen[o.instance_id] = std::move(o);
  });
  ASSERT_EQ(seen.size(), rows.size());
  EXPECT_TRUE(seen["ok-7"].stored);
  EXPECT_EQ(seen["ok-7"].dicom_sha256, digest::Sha256Hex(ct));
  EXPECT_EQ(seen["gone"].ErrorCodeText(), "not_found");
  EXPECT_EQ(seen["text"].ErrorCodeText(), "not_dicom");
  EXPECT_EQ(seen["../evil"].ErrorCodeText(), "invalid_argument");
  EXPECT_EQ(seen["nourl"].ErrorCodeText(), "invalid_argument");
  EXPECT_FALSE(fs::exists(dir.parent_path() / "evil.dcm"));
  fs::remove_all(dir);
}

class SilentObserver final : public RunObserver {
 public:
  void OnSelectionStats(const source::SelectionStats&) override {}
  void OnPage(int, size_t) override {}
  void OnResume(size_t, size_t) override {}
  void OnPhase(const std::string&, size_t) override {}
  void OnOutcome(const InstanceOutcome&, size_t, size_t) override {}
};

/// Counts fetches in flight and answers 404 quickly (no decode: the stages, not the codecs, are
/// under test).
class CountingFetcher final : public fetch::Fetcher {
 public:
  CountingFetcher(std::atomic<int>& started, std::atomic<int>& in_flight, std::atomic<int>& peak)
      : started_(started), in_flight_(in_flight), peak_(peak) {}
  Result<Bytes> Fetch(const std::string&) override {
    ++started_;
    const int now = ++in_flight_;
    int seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    --in_flight_;
    return Fail(ErrorCode::kNotFound, "HTTP 404");
  }

 private:
  std::atomic<int>&started_, &in_flight_, &peak_;
};

struct StreamRig {
  std::atomic<int> started{0}, in_flight{0}, peak{0};
  const dicom::DcmtkDecoder decoder;
  StageFactories factories;
  StreamRig() {
    factories.make_fetcher = [this] { return std::make_unique<CountingFetcher>(started, in_flight, peak); };
    factories.make_converter = [this] {
      return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder());
    };
  }
};

TEST(StreamingExecutor, OutcomesFlowWhileRowsAreStillGoingInAndTheQueuesStayBounded) {
  StreamRig rig;
  const auto dir = TempDir("stream");
  storage::LocalObjectStore store(dir);
  size_t delivered = 0, delivered_during_submit = 0;
  bool submitting = true;
  auto executor = MakeInProcessExecutor({3, 2, 2}, rig.factories, store, DatasetLayout{}, {}, [&](InstanceOutcome&& o) {
    EXPECT_EQ(o.ErrorCodeText(), "not_found");
    ++delivered;
    if (submitting) ++delivered_during_submit;
  });
  const size_t n = 500;
  size_t max_unreported = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(executor->Submit(Row(fmt::format("r{}", i), "mem://x")));
    max_unreported = std::max(max_unreported, i + 1 - delivered);
  }
  submitting = false;
  ASSERT_TRUE(executor->Finish().has_value());
  EXPECT_EQ(delivered, n);
  EXPECT_EQ(rig.started.load(), static_cast<int>(n));
  // One executor for all 500 rows: outcomes came back while rows were still being submitted, and
  // rows in the system never exceeded the bounds of its queues: input 2x3, downloads 3, fetched
  // 2x2, converting 2, converted 2, storing 2, outcomes 2x2+2.
  EXPECT_GT(delivered_during_submit, n / 2);
  EXPECT_LE(max_unreported, 6u + 3 + 4 + 2 + 2 + 2 + 6 + 1);
  EXPECT_LE(rig.peak.load(), 3);
}

TEST(StreamingExecutor, AStopDropsQueuedRowsAndReportsEveryStartedOne) {
  StreamRig rig;
  const auto dir = TempDir("stream-stop");
  storage::LocalObjectStore store(dir);
  std::set<std::string> seen;
  auto executor = MakeInProcessExecutor(
      {2, 1, 1}, rig.factories, store, DatasetLayout{}, {},
      [&](InstanceOutcome&& o) { EXPECT_TRUE(seen.insert(o.instance_id).second) << o.instance_id; },
      [&] { return seen.size() >= 5; });
  size_t submitted = 0;
  for (size_t i = 0; i < 1000; ++i, ++submitted) {
    if (!executor->Submit(Row(fmt::format("r{}", i), "mem://x"))) break;
  }
  ASSERT_TRUE(executor->Finish().has_value());
  EXPECT_LT(submitted, 1000u);  // Submit said "stopped".
  EXPECT_GE(seen.size(), 5u);
  // Every row a downloader took was reported; none that was only queued.
  EXPECT_EQ(seen.size(), static_cast<size_t>(rig.started.load()));
  EXPECT_LT(seen.size(), 30u);
}

TEST(StreamingExecutor, DroppedWithoutFinishItStopsItsThreads) {
  StreamRig rig;
  const auto dir = TempDir("stream-drop");
  storage::LocalObjectStore store(dir);
  {
    auto executor =
        MakeInProcessExecutor({2, 1, 1}, rig.factories, store, DatasetLayout{}, {}, [](InstanceOutcome&&) {});
    for (int i = 0; i < 20; ++i) (void)executor->Submit(Row(fmt::format("r{}", i), "mem://x"));
  }  // Must return (threads joined), not hang.
  SUCCEED();
}

TEST(BatchExecutor, SendsBatchesAndStopsBetweenThem) {
  std::vector<size_t> batches;
  size_t outcomes = 0;
  auto dispatch = [&](const std::vector<source::InstanceRow>& rows, const OutcomeSink& sink, const StopCheck& stop) {
    batches.push_back(rows.size());
    for (const auto& row : rows) {
      InstanceOutcome o;
      o.instance_id = row.instance_id;
      sink(std::move(o));
      if (stop()) break;
    }
    return Status{};
  };
  auto all = MakeBatchExecutor(
      dispatch, [&](InstanceOutcome&&) { ++outcomes; }, {}, 4);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(all->Submit(Row(fmt::format("r{}", i), "mem://x")));
  ASSERT_TRUE(all->Finish().has_value());
  EXPECT_EQ(batches, (std::vector<size_t>{4, 4, 2}));
  EXPECT_EQ(outcomes, 10u);

  batches.clear();
  outcomes = 0;
  auto stopping = MakeBatchExecutor(
      dispatch, [&](InstanceOutcome&&) { ++outcomes; }, [&] { return outcomes >= 6; }, 4);
  int taken = 0;
  for (int i = 0; i < 10 && stopping->Submit(Row(fmt::format("r{}", i), "mem://x")); ++i) ++taken;
  ASSERT_TRUE(stopping->Finish().has_value());
  EXPECT_EQ(outcomes, 6u);
  EXPECT_EQ(batches, (std::vector<size_t>{4, 4}));
  EXPECT_EQ(taken, 7);  // The 8th row filled the second batch, which stopped: Submit said false.
}

TEST(Run, ListsTheFirstFailuresAndCountsThemAll) {
  // More failing rows than the summary lists: it keeps the first kListedFailures (in CSV
  // order), counts every one, and the CSV has a row for each.
  const size_t n = kListedFailures + 234;
  std::vector<source::InstanceRow> rows;
  for (size_t i = 0; i < n; ++i) rows.push_back(Row(fmt::format("gone-{:05}", i), "mem://missing"));
  const std::map<std::string, std::vector<uint8_t>> files;
  const auto dir = TempDir("run-failures");
  storage::LocalObjectStore store(dir / "out");
  const dicom::DcmtkDecoder decoder;
  StageFactories f;
  f.make_fetcher = [&] { return std::make_unique<InMemoryFetcher>(files); };
  f.make_converter = [&] { return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder()); };
  RunOptions options;
  options.selection.studies.reset();
  options.page_size = 500;
  options.journal_path = dir / "journal.sqlite";
  SilentObserver observer;
  auto summary = pipeline::Run(
      options,
      [&]() -> Result<std::unique_ptr<source::PacsSource>> { return std::make_unique<source::FakePacsSource>(rows); },
      store, f, observer);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(summary->failed, n);
  EXPECT_EQ(summary->stored, 0u);
  EXPECT_EQ(summary->exit_code, 1);
  ASSERT_EQ(summary->failures.size(), kListedFailures);
  EXPECT_EQ(summary->failures.front().instance_id, "gone-00000");
  EXPECT_EQ(summary->failures.back().instance_id, fmt::format("gone-{:05}", kListedFailures - 1));
  EXPECT_EQ(summary->failures.front().error.rfind("not_found: ", 0), 0u) << summary->failures.front().error;
  std::ifstream csv(dir / "out" / options.layout.CsvKey());
  size_t lines = 0;
  for (std::string line; std::getline(csv, line);) lines += line.rfind("study-1,", 0) == 0 ? 1 : 0;
  EXPECT_EQ(lines, n);
  fs::remove_all(dir);
}

InstanceOutcome Unreachable() {
  InstanceOutcome o;
  o.SetErrorFromText("unavailable", "download: after 4 attempts: http://pacs/1: Couldn't connect to server");
  return o;
}

TEST(OutageDetector, TripsOnlyOnAnUnbrokenRunOfUnreachableDownloads) {
  OutageDetector d(3);
  InstanceOutcome not_found;
  not_found.SetErrorFromText("not_found", "download: http://pacs/2: HTTP 404");
  InstanceOutcome store_down = Unreachable();
  store_down.SetErrorFromText("unavailable", "store DICOM: cannot reach the bucket");  // Not the DICOM server.
  InstanceOutcome timed_out = Unreachable();
  timed_out.SetErrorFromText("timeout", Unreachable().ErrorText());
  InstanceOutcome stored;
  stored.stored = stored.downloaded = true;

  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(not_found));  // The server answered: start again.
  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(store_down));
  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(stored));
  EXPECT_EQ(d.source_streak(), 0u);
  InstanceOutcome no_url;  // Rejected before any download: neither counts nor resets.
  no_url.SetErrorFromText("invalid_argument", "file_url is NULL");
  InstanceOutcome forbidden;  // A 403 is an answer.
  forbidden.SetErrorFromText("invalid_argument", "download: http://pacs/3: HTTP 403");
  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(forbidden));
  EXPECT_EQ(d.source_streak(), 0u);
  EXPECT_FALSE(d.Observe(Unreachable()));
  EXPECT_FALSE(d.Observe(no_url));
  EXPECT_EQ(d.source_streak(), 1u);
  EXPECT_FALSE(d.Observe(timed_out));
  EXPECT_TRUE(d.Observe(Unreachable()));
  EXPECT_TRUE(d.tripped());
  EXPECT_TRUE(d.Observe(stored));  // Stays tripped.
  EXPECT_EQ(d.where(), OutageDetector::Where::kDicomServer);
  const std::string why = d.Describe(7, 50);
  EXPECT_NE(why.find("could not reach their DICOM server"), std::string::npos) << why;
  EXPECT_NE(why.find("Couldn't connect"), std::string::npos) << why;
  EXPECT_NE(why.find("7 of the 50 pending"), std::string::npos) << why;
}

TEST(OutageDetector, TripsOnAnUnbrokenRunOfObjectsTheDestinationRefused) {
  OutageDetector d(3);
  InstanceOutcome disk_full;  // The download worked; storing it did not.
  disk_full.SetErrorFromText("io", "store DICOM: /out/x.dcm.tmp-1-2: cannot write: No space left on device");
  InstanceOutcome jpeg_refused;  // The DICOM was stored, the JPEG was not.
  jpeg_refused.downloaded = true;
  jpeg_refused.SetErrorFromText("unavailable", "store JPEG: bucket unreachable");
  InstanceOutcome broken;  // A bad file says nothing about the destination.
  broken.downloaded = true;
  broken.SetErrorFromText("malformed", "convert: unreadable data set");
  InstanceOutcome stored;
  stored.stored = stored.downloaded = true;

  EXPECT_FALSE(d.Observe(disk_full));
  EXPECT_FALSE(d.Observe(jpeg_refused));
  EXPECT_FALSE(d.Observe(stored));  // An object went in: start again.
  EXPECT_EQ(d.destination_streak(), 0u);
  EXPECT_FALSE(d.Observe(disk_full));
  EXPECT_FALSE(d.Observe(Unreachable()));  // The source's count, not this one.
  EXPECT_FALSE(d.Observe(disk_full));
  EXPECT_EQ(d.destination_streak(), 2u);
  EXPECT_EQ(d.source_streak(), 0u);  // A download worked, then the store failed: the server answered.
  EXPECT_TRUE(d.Observe(jpeg_refused));
  EXPECT_EQ(d.where(), OutageDetector::Where::kDestination);
  const std::string why = d.Describe(1, 2);
  EXPECT_NE(why.find("could not be written to the destination"), std::string::npos) << why;
  EXPECT_NE(why.find("bucket unreachable"), std::string::npos) << why;
  OutageDetector e(2);
  EXPECT_FALSE(e.Observe(broken));
  EXPECT_FALSE(e.Observe(broken));
  EXPECT_FALSE(e.tripped());
}

/// A Fetcher for one server that can be taken down: while down, every fetch fails as curl's
/// "couldn't connect" does, and is counted.
class SwitchableFetcher final : public fetch::Fetcher {
 public:
  SwitchableFetcher(const std::vector<uint8_t>& file, const std::atomic<bool>& up, std::atomic<size_t>& calls)
      : file_(file), up_(up), calls_(calls) {}
  Result<Bytes> Fetch(const std::string& url) override {
    ++calls_;
    if (!up_) return Fail(ErrorCode::kUnavailable, url + ": Couldn't connect to server");
    return Bytes(file_.begin(), file_.end());
  }

 private:
  const std::vector<uint8_t>& file_;
  const std::atomic<bool>& up_;
  std::atomic<size_t>& calls_;
};

/// A local store that can fill up: while `full`, every Put fails as a full disk does.
class FillableStore final : public storage::ObjectStore {
 public:
  FillableStore(const fs::path& root, const std::atomic<bool>& full) : local_(root), full_(full) {}
  Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& type) override {
    if (full_) return Fail(ErrorCode::kIo, key + ": cannot write: No space left on device");
    return local_.Put(key, bytes, type);
  }
  Result<std::optional<storage::ObjectInfo>> Stat(const std::string& key) override { return local_.Stat(key); }
  Result<std::vector<uint8_t>> Get(const std::string& key) override { return local_.Get(key); }
  Status PutFile(const std::string& key, const fs::path& path, const std::string& type) override {
    return local_.PutFile(key, path, type);
  }
  Status ForEach(const std::string& prefix, const Visitor& visit) override { return local_.ForEach(prefix, visit); }
  std::string Uri(const std::string& key) const override { return local_.Uri(key); }
  Status Delete(const std::string& key) override { return local_.Delete(key); }
  Status CheckWritable() override { return local_.CheckWritable(); }
  Status Flush() override { return local_.Flush(); }

 private:
  storage::LocalObjectStore local_;
  const std::atomic<bool>& full_;
};

/// 400 rows of one small CT from a server that can be taken down, into a store that can fill
/// up, through pipeline::Run with a few threads.
struct OutageRig {
  std::vector<uint8_t> ct;
  std::vector<source::InstanceRow> rows;
  std::atomic<bool> up{true}, full{false};
  std::atomic<size_t> calls{0};
  fs::path dir;
  FillableStore store;
  dicom::DcmtkDecoder decoder;
  StageFactories factories;
  RunOptions options;
  SilentObserver observer;

  explicit OutageRig(const std::string& name, size_t n = 400) : dir(TempDir(name)), store(dir / "out", full) {
    std::ifstream in("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", std::ios::binary);
    ct.assign(std::istreambuf_iterator<char>(in), {});
    for (size_t i = 0; i < n; ++i) rows.push_back(Row(fmt::format("ct-{:04}", i), fmt::format("http://pacs/{}", i)));
    factories.make_fetcher = [this] { return std::make_unique<SwitchableFetcher>(ct, up, calls); };
    factories.make_converter = [this] {
      return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder());
    };
    options.selection.studies.reset();
    options.executor = {4, 2, 2};
    options.journal_path = dir / "journal.sqlite";
  }
  ~OutageRig() { fs::remove_all(dir); }
  Result<RunSummary> Run() {
    return pipeline::Run(
        options,
        [this]() -> Result<std::unique_ptr<source::PacsSource>> {
          return std::make_unique<source::FakePacsSource>(rows);
        },
        store, factories, observer);
  }
  /// Stopped: the threshold plus what was already in flight (a few dozen; more when a loaded
  /// machine lets the download threads run ahead of the thread that counts outcomes), not every row.
  void ExpectStoppedEarly() const {
    EXPECT_GE(calls.load(), OutageDetector::kDefaultThreshold);
    EXPECT_LT(calls.load(), rows.size() / 2);
    EXPECT_FALSE(fs::exists(dir / "out" / options.layout.CsvKey()));  // No CSV for an unfinished run.
  }
  /// A rerun stored every row once.
  void ExpectResumedToTheEnd() {
    auto back = Run();
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE(back->resumed);
    EXPECT_EQ(back->stored, rows.size());
    EXPECT_EQ(back->failed, 0u);
    EXPECT_EQ(back->exit_code, 0);
    std::ifstream csv(dir / "out" / options.layout.CsvKey());
    std::set<std::string> ids;
    size_t lines = 0;
    for (std::string line; std::getline(csv, line);) {
      if (line.rfind("study-1,", 0) != 0) continue;
      ++lines;
      ids.insert(line.substr(10, 7));  // study-1,1,<instance_id>
    }
    EXPECT_EQ(lines, rows.size());
    EXPECT_EQ(ids.size(), rows.size());
  }
};

TEST(Run, StopsWhenTheDicomServerIsDownAndResumesWhenItIsBack) {
  OutageRig rig("run-outage");
  rig.up = false;
  auto down = rig.Run();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(down.error().message().find("could not reach their DICOM server"), std::string::npos)
      << down.error().message();
  rig.ExpectStoppedEarly();
  rig.up = true;
  rig.ExpectResumedToTheEnd();
}

TEST(Run, StopsWhenTheDestinationTakesNothingAndResumesWhenItDoes) {
  OutageRig rig("run-full");
  rig.full = true;
  auto refused = rig.Run();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message().find("could not be written to the destination"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("No space left on device"), std::string::npos);
  rig.ExpectStoppedEarly();
  rig.full = false;
  rig.ExpectResumedToTheEnd();
}

/// Fetches every URL as the same file, except "mem://throw", whose fetch throws as an
/// allocation failure would.
class ThrowingFetcher final : public fetch::Fetcher {
 public:
  explicit ThrowingFetcher(const std::vector<uint8_t>& file) : file_(file) {}
  Result<Bytes> Fetch(const std::string& url) override {
    if (url == "mem://throw") throw std::bad_alloc();
    return Bytes(file_.begin(), file_.end());
  }

 private:
  const std::vector<uint8_t>& file_;
};

/// A decoder that throws on files whose last byte is 0x5A (the test marks its file so), and
/// otherwise decodes with DCMTK.
class ThrowingDecoder final : public dicom::DicomDecoder {
 public:
  Result<std::unique_ptr<dicom::DicomObject>> Open(std::span<const uint8_t> bytes) const override {
    if (!bytes.empty() && bytes.back() == 0x5A) throw std::runtime_error("decoder bug");
    return real_.Open(bytes);
  }

 private:
  dicom::DcmtkDecoder real_;
};

TEST(Executor, AnExceptionInATaskFailsThatInstanceOnly) {
  std::ifstream in("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", std::ios::binary);
  const std::vector<uint8_t> ct{std::istreambuf_iterator<char>(in), {}};
  std::vector<uint8_t> marked = ct;
  marked.push_back(0x5A);  // Still DICOM (trailing byte), but the decoder throws on it.
  const std::map<std::string, std::vector<uint8_t>> files = {{"mem://ct", ct}, {"mem://marked", marked}};
  const auto dir = TempDir("exec-throw");
  storage::LocalObjectStore store(dir);
  const ThrowingDecoder decoder;
  StageFactories f;
  f.make_fetcher = [&]() -> std::unique_ptr<fetch::Fetcher> {
    struct Mixed final : fetch::Fetcher {
      explicit Mixed(const std::map<std::string, std::vector<uint8_t>>& files)
          : mem(files), thrower(files.at("mem://ct")) {}
      Result<Bytes> Fetch(const std::string& url) override {
        return url == "mem://throw" ? thrower.Fetch(url) : mem.Fetch(url);
      }
      InMemoryFetcher mem;
      ThrowingFetcher thrower;
    };
    return std::make_unique<Mixed>(files);
  };
  f.make_converter = [&] { return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder()); };
  std::vector<source::InstanceRow> rows;
  for (int i = 0; i < 30; ++i) {
    const char* url = i % 10 == 3 ? "mem://throw" : i % 10 == 7 ? "mem://marked" : "mem://ct";
    rows.push_back(Row(fmt::format("r{:02}", i), url));
  }
  std::map<std::string, InstanceOutcome> outcomes;
  RunInProcess(rows, {2, 2, 2}, f, store, DatasetLayout{}, convert::ConvertOptions{},
               [&](InstanceOutcome&& o) { outcomes[o.instance_id] = std::move(o); });
  ASSERT_EQ(outcomes.size(), rows.size());  // The run went on: every row has its outcome.
  for (int i = 0; i < 30; ++i) {
    const auto& o = outcomes.at(fmt::format("r{:02}", i));
    if (i % 10 == 3) {
      EXPECT_FALSE(o.stored);
      EXPECT_EQ(o.ErrorCodeText(), "too_large") << o.ErrorText();
      EXPECT_EQ(o.ErrorText(), "download: out of memory");
    } else if (i % 10 == 7) {
      EXPECT_FALSE(o.stored);
      EXPECT_EQ(o.ErrorCodeText(), "internal") << o.ErrorText();
      EXPECT_NE(o.ErrorText().find("decoder bug"), std::string::npos) << o.ErrorText();
    } else {
      EXPECT_TRUE(o.stored) << o.ErrorText();
    }
  }
  fs::remove_all(dir);
}

/// Runs pipeline::Run over `rows` in a fresh folder, keeping the source it connected to.
struct SmallRun {
  fs::path dir;
  std::vector<source::InstanceRow> rows;
  std::map<std::string, std::vector<uint8_t>> files;
  int sample_queries = 0;
  int connects = 0;
  storage::LocalObjectStore store;
  dicom::DcmtkDecoder decoder;
  StageFactories factories;
  RunOptions options;
  SilentObserver observer;

  explicit SmallRun(const std::string& name) : dir(TempDir(name)), store(dir / "out") {
    std::ifstream in("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", std::ios::binary);
    files["mem://ct"].assign(std::istreambuf_iterator<char>(in), {});
    factories.make_fetcher = [this] { return std::make_unique<InMemoryFetcher>(files); };
    factories.make_converter = [this] {
      return std::make_unique<convert::Converter>(decoder, jpeg::MakeTurboJpegEncoder());
    };
    options.selection.studies.reset();
    options.journal_path = dir / "out" / ".eden" / "journal.sqlite";
  }
  ~SmallRun() { fs::remove_all(dir); }
  Result<RunSummary> Run() {
    return pipeline::Run(
        options,
        [this]() -> Result<std::unique_ptr<source::PacsSource>> {
          ++connects;
          auto s = std::make_unique<source::FakePacsSource>(rows);
          s->sample_queries_out = &sample_queries;
          return std::unique_ptr<source::PacsSource>(std::move(s));
        },
        store, factories, observer);
  }
};

TEST(Run, AllStudiesRunsNoSamplingQuery) {
  SmallRun run("run-all-studies");
  for (int i = 0; i < 5; ++i) run.rows.push_back(Row(fmt::format("a{}", i), "mem://ct"));
  auto all = run.Run();
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(all->stored, 5u);
  EXPECT_EQ(run.sample_queries, 0);
  run.options.fresh = true;
  run.options.selection.studies = 3;
  ASSERT_TRUE(run.Run());
  EXPECT_EQ(run.sample_queries, 1);  // A sample does ask for its studies.
}

TEST(Run, DuplicateInstanceIdsAreReportedNotDroppedSilently) {
  SmallRun run("run-duplicates");
  for (const char* id : {"d1", "d2", "d1", "d3", "d2", "d1"}) run.rows.push_back(Row(id, "mem://ct"));
  auto first = run.Run();
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->total, 3u);
  EXPECT_EQ(first->stored, 3u);
  EXPECT_EQ(first->duplicate_rows, 3u);
  EXPECT_EQ(first->duplicate_examples, (std::vector<std::string>{"d1", "d1", "d2"}));  // Selection order.
  auto again = run.Run();  // Resumed from the journal: still reported.
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->duplicate_rows, 3u);
}

TEST(Run, ARerunWithOtherSettingsStopsAndListsEachDifference) {
  SmallRun run("run-changed-settings");
  for (int i = 0; i < 6; ++i) run.rows.push_back(Row(fmt::format("c{}", i), "mem://ct"));
  run.options.selection.studies = 4;
  run.options.selection.seed = "alpha";
  ASSERT_TRUE(run.Run());
  run.options.selection.seed = "7";
  run.options.selection.modality = "CT";
  run.options.convert.quality = 50;
  auto changed = run.Run();
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code(), ErrorCode::kInvalidArgument);
  for (const char* needle :
       {"--seed: frozen alpha, now 7", "--modality: frozen -, now CT", "--quality: frozen 100, now 50", "--fresh"}) {
    EXPECT_NE(changed.error().message().find(needle), std::string::npos) << changed.error().message();
  }
  EXPECT_EQ(changed.error().message().find("--max-size"), std::string::npos);  // Unchanged: not listed.
  run.options.fresh = true;
  auto fresh = run.Run();
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_FALSE(fresh->resumed);
  run.options.fresh = false;
  auto resumed = run.Run();  // The same settings as the new sample: resumes.
  ASSERT_TRUE(resumed) << resumed.error().ToString();
  EXPECT_TRUE(resumed->resumed);
}

TEST(Run, FreshRemovesTheOldSamplesObjectsOrMovesThemAside) {
  for (const bool keep_old : {false, true}) {
    SmallRun run(keep_old ? "run-fresh-keep" : "run-fresh");
    for (int i = 0; i < 6; ++i) run.rows.push_back(Row(fmt::format("f{}", i), "mem://ct"));
    ASSERT_TRUE(run.Run());  // All six.
    const fs::path dataset = run.dir / "out" / run.options.layout.prefix;
    std::ofstream(dataset / "images-jpg" / "notes.txt") << "not eden's";  // Left alone.
    // A new sample of three: the other three rows' objects must go.
    run.rows.resize(3);
    run.options.fresh = true;
    run.options.keep_old = keep_old;
    run.options.selection.studies.reset();
    run.options.query_name = "other";
    auto fresh = run.Run();
    ASSERT_TRUE(fresh) << fresh.error().ToString();
    EXPECT_EQ(fresh->stored, 3u);
    EXPECT_EQ(fresh->pruned, 6u);  // Three DICOM + three JPEG.
    size_t dcm = 0, jpg = 0;
    for (const auto& e : fs::directory_iterator(dataset / "dicom-files")) dcm += e.path().extension() == ".dcm";
    for (const auto& e : fs::directory_iterator(dataset / "images-jpg")) jpg += e.path().extension() == ".jpg";
    EXPECT_EQ(dcm, 3u);
    EXPECT_EQ(jpg, 3u);
    EXPECT_TRUE(fs::exists(dataset / "images-jpg" / "notes.txt"));
    EXPECT_FALSE(fs::exists(dataset / "dicom-files" / "f4.dcm"));
    size_t moved = 0;
    if (fs::exists(dataset / "old-samples")) {
      for (const auto& e : fs::recursive_directory_iterator(dataset / "old-samples")) moved += e.is_regular_file();
    }
    EXPECT_EQ(moved, keep_old ? 6u : 0u);
    EXPECT_EQ(fresh->old_samples.empty(), !keep_old);
    // Done once: a rerun prunes nothing more.
    run.options.fresh = false;
    auto again = run.Run();
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_EQ(again->pruned, 0u);
  }
}

TEST(Run, ASelectionThatMatchesNothingWritesNothing) {
  SmallRun run("run-empty");
  auto empty = run.Run();
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kEmptySelection);
  EXPECT_NE(empty.error().message().find("no studies match"), std::string::npos);
  EXPECT_FALSE(fs::exists(run.dir / "out" / run.options.layout.CsvKey()));
}

TEST(Run, AJournalWhoseMetaCannotBeReadStopsTheRunAndKeepsTheSample) {
  SmallRun run("run-unreadable-meta");
  for (int i = 0; i < 4; ++i) run.rows.push_back(Row(fmt::format("m{}", i), "mem://ct"));
  ASSERT_TRUE(run.Run());
  ASSERT_EQ(run.connects, 1);
  {
    // Another writer (or a damaged file) leaves a meta table the journal cannot read.
    auto j = Journal::Open(run.options.journal_path);
    ASSERT_TRUE(j);
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(run.options.journal_path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE meta; CREATE TABLE meta (k TEXT, v TEXT);", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto j = Journal::Open(run.options.journal_path);
  ASSERT_TRUE(j);
  auto frozen = (*j)->IsFrozen();
  ASSERT_FALSE(frozen.has_value()) << "an unreadable meta table must not read as 'not frozen'";
  EXPECT_EQ(frozen.error().code(), ErrorCode::kIo);
  j->reset();
  auto rerun = run.Run();
  ASSERT_FALSE(rerun.has_value());
  EXPECT_EQ(rerun.error().code(), ErrorCode::kIo);
  EXPECT_EQ(run.connects, 1) << "the run selected again instead of stopping";
  auto kept = Journal::Open(run.options.journal_path);
  ASSERT_TRUE(kept);
  auto counts = (*kept)->Count();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, 4u);  // The sample and its outcomes are still there.
  EXPECT_EQ(counts->stored, 4u);
}

TEST(Sha256, KnownVector) {
  const std::string abc = "abc";
  EXPECT_EQ(digest::Sha256Hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(abc.data()), abc.size())),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace eden::pipeline
