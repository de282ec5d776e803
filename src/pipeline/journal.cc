#include "pipeline/journal.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include <sqlite3.h>

#include <fmt/format.h>

namespace eden::pipeline {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  study_id TEXT NOT NULL, series_number INTEGER, instance_number INTEGER,
  file_path TEXT, file_url TEXT, report_value TEXT, field_created_at TEXT, src_modality TEXT, body_part TEXT,
  state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  downloaded INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_message TEXT,
  dicom_key TEXT, jpg_key TEXT, dicom_uri TEXT, jpg_uri TEXT, dicom_sha256 TEXT, jpg_sha256 TEXT,
  dicom_crc32c TEXT, jpg_crc32c TEXT, dicom_bytes INTEGER, jpg_bytes INTEGER, rows INTEGER, columns INTEGER, modality TEXT, photometric TEXT,
  transfer_syntax TEXT, window TEXT, updated_at TEXT
);
CREATE INDEX IF NOT EXISTS instances_seq ON instances(seq);
)sql";

void BindText(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v) {
    sqlite3_bind_text(s, i, v->c_str(), static_cast<int>(v->size()), SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s, i);
  }
}
void BindInt(sqlite3_stmt* s, int i, const std::optional<int64_t>& v) {
  if (v) {
    sqlite3_bind_int64(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}
std::optional<std::string> ColText(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, i)),
                     static_cast<size_t>(sqlite3_column_bytes(s, i)));
}
std::optional<int64_t> ColInt(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

/// A sample row into the journal (BindRow's parameters); a repeated instance id is not inserted.
constexpr const char* kInsertRow =
    "INSERT INTO instances (instance_id, seq, study_id, series_number, instance_number, "
    "file_path, file_url, report_value, field_created_at, src_modality, body_part, src_patient_id) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (instance_id) DO NOTHING";

void BindRow(sqlite3_stmt* q, const source::InstanceRow& r, int64_t seq) {
  sqlite3_reset(q);
  BindText(q, 1, r.instance_id);
  sqlite3_bind_int64(q, 2, seq);
  BindText(q, 3, r.study_id);
  BindInt(q, 4, r.series_number);
  BindInt(q, 5, r.instance_number);
  BindText(q, 6, r.file_path);
  BindText(q, 7, r.file_url);
  BindText(q, 8, r.report_value);
  BindText(q, 9, r.field_created_at);
  BindText(q, 10, r.modality);
  BindText(q, 11, r.body_part);
  BindText(q, 12, r.patient_id);
}

}  // namespace

Result<Journal::Statement> Journal::Prepare(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr) != SQLITE_OK || raw == nullptr) {
    sqlite3_finalize(raw);
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  }
  return Statement(raw);
}

void Journal::StatementDeleter::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Result<std::unique_ptr<Journal>> Journal::Open(const std::filesystem::path& path) {
  // The journal holds the source rows (report text, file paths: PHI) for resuming: its folder,
  // when eden makes it, and the file itself are the owner's only (SQLite gives its -wal and -shm
  // files the database file's mode). It is never part of the dataset.
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
    if (fs::create_directories(path.parent_path(), ec)) fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  }
  const bool created = !fs::exists(path, ec);
  if (created) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Fail(ErrorCode::kIo, fmt::format("cannot open journal {}: {}", path.string(), message));
  }
  std::unique_ptr<Journal> j(new Journal(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL + synchronous=NORMAL: a committed transaction survives a process kill; a power cut
  // may lose the last few, which only means reprocessing them (idempotent).
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    if (auto ok = j->Exec(sql); !ok) return Fail(ok.error());
  }
  // Journals written before the CRC-32C and de-identification columns existed gain them (an
  // error means they exist).
  for (const char* sql :
       {"ALTER TABLE instances ADD COLUMN dicom_crc32c TEXT", "ALTER TABLE instances ADD COLUMN jpg_crc32c TEXT",
        "ALTER TABLE instances ADD COLUMN patient TEXT", "ALTER TABLE instances ADD COLUMN deid_report TEXT",
        "ALTER TABLE instances ADD COLUMN deid_replacements INTEGER",
        "ALTER TABLE instances ADD COLUMN src_patient_id TEXT", "ALTER TABLE instances ADD COLUMN view_position TEXT",
        "ALTER TABLE instances ADD COLUMN header_body_part TEXT", "ALTER TABLE instances ADD COLUMN laterality TEXT",
        "ALTER TABLE instances ADD COLUMN sex TEXT", "ALTER TABLE instances ADD COLUMN age TEXT",
        "ALTER TABLE instances ADD COLUMN patient_hash TEXT"}) {
    (void)j->Exec(sql);
  }
  return j;
}

Result<std::unique_ptr<Journal>> Journal::OpenForReading(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Fail(ErrorCode::kNotFound, fmt::format("no run journal at {}", path.string()));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Fail(ErrorCode::kIo, fmt::format("cannot open journal {}: {}", path.string(), message));
  }
  std::unique_ptr<Journal> j(new Journal(db));
  sqlite3_busy_timeout(db, 5000);
  return j;
}

Result<Journal::Progress> Journal::ProgressNow(int window_s) {
  Progress p;
  auto by_state =
      Prepare("SELECT state, coalesce(error_code, ''), count(*), max(updated_at) FROM instances GROUP BY 1, 2");
  if (!by_state) return Fail(by_state.error());
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(by_state->get())) == SQLITE_ROW) {
    sqlite3_stmt* q = by_state->get();
    const State state = ParseState(ColText(q, 0).value_or("pending"));
    const size_t n = static_cast<size_t>(sqlite3_column_int64(q, 2));
    p.total += n;
    if (state == State::kStored) p.stored += n;
    if (state == State::kExcluded) p.excluded += n;
    if (state == State::kPending) p.pending += n;
    if (state == State::kFailed) {
      p.failed += n;
      p.failed_by_code[ColText(q, 1).value_or("")] += n;
    }
    if (auto t = ColText(q, 3); t && *t > p.last_update) p.last_update = *t;
  }
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  auto recent = Prepare(
      "SELECT count(*) FROM instances WHERE state != 'pending' AND updated_at >= "
      "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)");
  if (!recent) return Fail(recent.error());
  const std::string modifier = fmt::format("-{} seconds", window_s);
  BindText(recent->get(), 1, modifier);
  if (sqlite3_step(recent->get()) != SQLITE_ROW) {
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  }
  p.recent = static_cast<size_t>(sqlite3_column_int64(recent->get(), 0));
  return p;
}

Result<std::vector<Journal::FailureRow>> Journal::LatestFailures(int limit) {
  auto q = Prepare(
      "SELECT instance_id, coalesce(error_code, ''), coalesce(error_message, ''), coalesce(updated_at, '') "
      "FROM instances WHERE state = 'failed' ORDER BY updated_at DESC, seq DESC LIMIT ?1");
  if (!q) return Fail(q.error());
  sqlite3_bind_int(q->get(), 1, limit);
  std::vector<FailureRow> rows;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
    rows.push_back({ColText(q->get(), 0).value_or(""), ColText(q->get(), 1).value_or(""),
                    ColText(q->get(), 2).value_or(""), ColText(q->get(), 3).value_or("")});
  }
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  return rows;
}

Result<Journal::Timeline> Journal::OutcomeTimeline(int buckets) {
  Timeline t;
  auto span = Prepare(
      "SELECT min(updated_at), (julianday(max(updated_at)) - julianday(min(updated_at))) * 86400.0 "
      "FROM instances WHERE state != 'pending' AND updated_at IS NOT NULL");
  if (!span) return Fail(span.error());
  if (sqlite3_step(span->get()) != SQLITE_ROW)
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  auto start = ColText(span->get(), 0);
  if (!start || buckets < 1) return t;
  t.start = *start;
  const double seconds = sqlite3_column_double(span->get(), 1);
  t.width_s = std::max(1.0, std::ceil((seconds + 0.001) / buckets));
  t.counts.assign(static_cast<size_t>(std::min<double>(buckets, std::floor(seconds / t.width_s) + 1)), 0);
  auto q = Prepare(
      "SELECT CAST((julianday(updated_at) - julianday(?1)) * 86400.0 / ?2 AS INTEGER), count(*) FROM instances "
      "WHERE state != 'pending' AND updated_at IS NOT NULL GROUP BY 1");
  if (!q) return Fail(q.error());
  BindText(q->get(), 1, t.start);
  sqlite3_bind_double(q->get(), 2, t.width_s);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
    const auto i = static_cast<size_t>(std::max<int64_t>(0, sqlite3_column_int64(q->get(), 0)));
    t.counts[std::min(i, t.counts.size() - 1)] += static_cast<size_t>(sqlite3_column_int64(q->get(), 1));
  }
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  return t;
}

Result<Journal::Stored> Journal::StoredCounts() {
  auto q = Prepare(
      "SELECT count(*), count(DISTINCT study_id), coalesce(sum(dicom_bytes), 0), coalesce(sum(jpg_bytes), 0) "
      "FROM instances WHERE state = 'stored'");
  if (!q) return Fail(q.error());
  if (sqlite3_step(q->get()) != SQLITE_ROW)
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  Stored s;
  s.images = static_cast<size_t>(sqlite3_column_int64(q->get(), 0));
  s.studies = static_cast<size_t>(sqlite3_column_int64(q->get(), 1));
  s.dicom_bytes = static_cast<uint64_t>(sqlite3_column_int64(q->get(), 2));
  s.jpg_bytes = static_cast<uint64_t>(sqlite3_column_int64(q->get(), 3));
  return s;
}

Journal::~Journal() { sqlite3_close(db_); }

Status Journal::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown";
    sqlite3_free(err);
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", message));
  }
  return {};
}

Result<bool> Journal::IsFrozen() {
  auto meta = Meta();
  if (!meta) return Fail(meta.error());
  return meta->count("frozen") > 0;
}

Status Journal::Reset() { return Exec("BEGIN; DELETE FROM instances; DELETE FROM meta; COMMIT;"); }

Result<bool> Journal::InsertCounted(sqlite3_stmt* insert, const source::InstanceRow& row, int64_t seq,
                                    FreezeReport& report) {
  BindRow(insert, row, seq);
  if (sqlite3_step(insert) != SQLITE_DONE) {
    return Fail(ErrorCode::kIo, fmt::format("journal insert: {}", sqlite3_errmsg(db_)));
  }
  if (sqlite3_changes(db_) == 0) {
    ++report.duplicates;
    if (report.duplicate_examples.size() < kDuplicateExamples) report.duplicate_examples.push_back(row.instance_id);
    return false;
  }
  ++report.rows;
  return true;
}

Result<Journal::FreezeReport> Journal::Freeze(const PageSource& next_page,
                                              const std::map<std::string, std::string>& meta) {
  if (auto ok = Exec("BEGIN IMMEDIATE; DELETE FROM instances; DELETE FROM meta;"); !ok) return Fail(ok.error());
  auto fail = [&](Error e) -> Result<FreezeReport> {
    (void)Exec("ROLLBACK");
    return Fail(std::move(e));
  };
  auto insert = Prepare(kInsertRow);
  if (!insert) return fail(insert.error());
  sqlite3_stmt* q = insert->get();
  FreezeReport report;
  int64_t seq = 0;
  for (;;) {
    auto page = next_page();
    if (!page) return fail(page.error());
    if (page->empty()) break;
    for (const auto& r : *page) {
      // The same instance id twice in the selection: the first row is kept, the others are
      // reported (a query joining reports to instances can repeat rows).
      auto inserted = InsertCounted(q, r, seq, report);
      if (!inserted) return fail(inserted.error());
      if (*inserted) ++seq;
    }
  }
  auto put = Prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
  if (!put) return fail(put.error());
  auto with_frozen = meta;
  with_frozen["duplicate_rows"] = std::to_string(report.duplicates);
  with_frozen["frozen"] = "1";
  for (const auto& [k, v] : with_frozen) {
    sqlite3_reset(put->get());
    BindText(put->get(), 1, k);
    BindText(put->get(), 2, v);
    if (sqlite3_step(put->get()) != SQLITE_DONE) {
      return fail(Error(ErrorCode::kIo, fmt::format("journal meta: {}", sqlite3_errmsg(db_))));
    }
  }
  if (auto ok = Exec("COMMIT"); !ok) return fail(ok.error());
  return report;
}

Result<Journal::FreezeReport> Journal::Append(const PageSource& next_page) {
  if (auto ok = Exec("BEGIN IMMEDIATE; DROP TABLE IF EXISTS temp.known_studies; "
                     "CREATE TEMP TABLE known_studies AS SELECT DISTINCT study_id FROM instances; "
                     "CREATE UNIQUE INDEX temp.known_studies_id ON known_studies(study_id);");
      !ok) {
    return Fail(ok.error());
  }
  auto fail = [&](Error e) -> Result<FreezeReport> {
    (void)Exec("ROLLBACK");
    return Fail(std::move(e));
  };
  auto last = Prepare("SELECT coalesce(max(seq), -1) FROM instances");
  if (!last) return fail(last.error());
  if (sqlite3_step(last->get()) != SQLITE_ROW) return fail(Error(ErrorCode::kIo, sqlite3_errmsg(db_)));
  int64_t seq = sqlite3_column_int64(last->get(), 0) + 1;
  auto known = Prepare("SELECT 1 FROM known_studies WHERE study_id = ?");
  auto insert = Prepare(kInsertRow);
  if (!known || !insert) return fail(!known ? known.error() : insert.error());
  FreezeReport report;
  std::set<std::string> added_studies;
  for (;;) {
    auto page = next_page();
    if (!page) return fail(page.error());
    if (page->empty()) break;
    for (const auto& r : *page) {
      sqlite3_reset(known->get());
      BindText(known->get(), 1, r.study_id);
      const int rc = sqlite3_step(known->get());
      if (rc == SQLITE_ROW) continue;  // In the dataset already.
      if (rc != SQLITE_DONE) return fail(Error(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_))));
      auto inserted = InsertCounted(insert->get(), r, seq, report);
      if (!inserted) return fail(inserted.error());
      if (*inserted) {
        ++seq;
        added_studies.insert(r.study_id);
      }
    }
  }
  report.studies = added_studies.size();
  if (auto ok = Exec("COMMIT"); !ok) return fail(ok.error());
  (void)Exec("DROP TABLE IF EXISTS temp.known_studies");
  return report;
}

Status Journal::BackupTo(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  sqlite3* out = nullptr;
  if (sqlite3_open(path.c_str(), &out) != SQLITE_OK) {
    sqlite3_close(out);
    return Fail(ErrorCode::kIo, fmt::format("cannot write {}", path.string()));
  }
  sqlite3_backup* b = sqlite3_backup_init(out, "main", db_, "main");
  int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
  if (b) sqlite3_backup_finish(b);
  const std::string why = sqlite3_errmsg(out);
  sqlite3_close(out);
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal backup to {}: {}", path.string(), why));
  return {};
}

Result<Journal::FreezeReport> Journal::Freeze(const std::vector<source::InstanceRow>& rows,
                                              const std::map<std::string, std::string>& meta) {
  bool given = false;
  return Freeze(
      [&]() -> Result<std::vector<source::InstanceRow>> {
        if (given) return std::vector<source::InstanceRow>{};
        given = true;
        return rows;
      },
      meta);
}

Result<std::map<std::string, std::string>> Journal::Meta() {
  // A meta table that cannot be read is an error, never "not frozen": that answer would make
  // the run freeze again and delete the sample and every recorded outcome.
  auto s = Prepare("SELECT key, value FROM meta");
  if (!s) return Fail(s.error());
  std::map<std::string, std::string> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    out[ColText(s->get(), 0).value_or("")] = ColText(s->get(), 1).value_or("");
  }
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal meta: {}", sqlite3_errmsg(db_)));
  return out;
}

Status Journal::SetMeta(const std::string& key, const std::string& value) {
  auto s =
      Prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return Fail(s.error());
  BindText(s->get(), 1, key);
  BindText(s->get(), 2, value);
  if (sqlite3_step(s->get()) != SQLITE_DONE) {
    return Fail(ErrorCode::kIo, fmt::format("journal meta: {}", sqlite3_errmsg(db_)));
  }
  return {};
}

Result<std::vector<std::string>> Journal::NotInSample(const std::vector<std::string>& ids) {
  auto s = Prepare("SELECT 1 FROM instances WHERE instance_id = ?");
  if (!s) return Fail(s.error());
  std::vector<std::string> out;
  for (const auto& id : ids) {
    sqlite3_reset(s->get());
    BindText(s->get(), 1, id);
    const int rc = sqlite3_step(s->get());
    if (rc == SQLITE_DONE) {
      out.push_back(id);
    } else if (rc != SQLITE_ROW) {
      return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
    }
  }
  return out;
}

Status Journal::Select(const std::string& sql_tail, const std::function<void(sqlite3_stmt*)>& bind,
                       const std::function<void(JournalEntry&&)>& visit) {
  const std::string sql = fmt::format(
      "SELECT seq, instance_id, study_id, series_number, instance_number, file_path, file_url, report_value, "
      "field_created_at, src_modality, body_part, state, attempts, downloaded, error_code, error_message, dicom_key, "
      "jpg_key, dicom_uri, jpg_uri, dicom_sha256, jpg_sha256, dicom_bytes, jpg_bytes, rows, columns, modality, "
      "photometric, transfer_syntax, window, dicom_crc32c, jpg_crc32c, patient, deid_report, deid_replacements, "
      "src_patient_id, view_position, header_body_part, laterality, sex, age, patient_hash "
      "FROM instances {}",
      sql_tail);
  auto s = Prepare(sql.c_str());
  if (!s) return Fail(s.error());
  if (bind) bind(s->get());
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    JournalEntry e;
    sqlite3_stmt* q = s->get();
    e.seq = sqlite3_column_int64(q, 0);
    e.row.instance_id = ColText(q, 1).value_or("");
    e.row.study_id = ColText(q, 2).value_or("");
    e.row.series_number = ColInt(q, 3);
    e.row.instance_number = ColInt(q, 4);
    e.row.file_path = ColText(q, 5);
    e.row.file_url = ColText(q, 6);
    e.row.report_value = ColText(q, 7);
    e.row.field_created_at = ColText(q, 8);
    e.row.modality = ColText(q, 9);
    e.row.body_part = ColText(q, 10);
    e.state = ParseState(ColText(q, 11).value_or("pending"));
    e.attempts = static_cast<int>(ColInt(q, 12).value_or(0));
    InstanceOutcome& o = e.outcome;
    o.instance_id = e.row.instance_id;
    o.stored = e.state == State::kStored;
    o.excluded = e.state == State::kExcluded;
    o.downloaded = ColInt(q, 13).value_or(0) != 0;
    o.SetErrorFromText(ColText(q, 14).value_or(""), ColText(q, 15).value_or(""));
    o.dicom_key = ColText(q, 16).value_or("");
    o.jpg_key = ColText(q, 17).value_or("");
    o.dicom_uri = ColText(q, 18).value_or("");
    o.jpg_uri = ColText(q, 19).value_or("");
    o.dicom_sha256 = ColText(q, 20).value_or("");
    o.jpg_sha256 = ColText(q, 21).value_or("");
    o.dicom_bytes = static_cast<uint64_t>(ColInt(q, 22).value_or(0));
    o.jpg_bytes = static_cast<uint64_t>(ColInt(q, 23).value_or(0));
    o.rows = static_cast<uint32_t>(ColInt(q, 24).value_or(0));
    o.columns = static_cast<uint32_t>(ColInt(q, 25).value_or(0));
    o.modality = ColText(q, 26).value_or("");
    o.photometric = ColText(q, 27).value_or("");
    o.transfer_syntax = ColText(q, 28).value_or("");
    o.window = ColText(q, 29).value_or("");
    o.dicom_crc32c = ColText(q, 30).value_or("");
    o.jpg_crc32c = ColText(q, 31).value_or("");
    o.patient = ColText(q, 32).value_or("");
    o.deid_report = ColText(q, 33);
    o.deid_replacements = static_cast<uint64_t>(ColInt(q, 34).value_or(0));
    e.row.patient_id = ColText(q, 35);
    o.view_position = ColText(q, 36).value_or("");
    o.body_part = ColText(q, 37).value_or("");
    o.laterality = ColText(q, 38).value_or("");
    o.sex = ColText(q, 39).value_or("");
    o.age = ColText(q, 40).value_or("");
    o.patient_hash = ColText(q, 41).value_or("");
    visit(std::move(e));
  }
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  return {};
}

Result<std::vector<JournalEntry>> Journal::PendingAfter(int64_t after_seq, size_t limit) {
  std::vector<JournalEntry> out;
  auto ok = Select(
      "WHERE state NOT IN ('stored', 'excluded') AND seq > ?1 ORDER BY seq LIMIT ?2",
      [&](sqlite3_stmt* s) {
        sqlite3_bind_int64(s, 1, after_seq);
        sqlite3_bind_int64(s, 2, static_cast<int64_t>(limit));
      },
      [&](JournalEntry&& e) { out.push_back(std::move(e)); });
  if (!ok) return Fail(ok.error());
  return out;
}

Status Journal::ForEachInCsvOrder(const std::function<void(const JournalEntry&)>& visit) {
  return Select("ORDER BY study_id, series_number, instance_number, instance_id", {},
                [&](JournalEntry&& e) { visit(e); });
}

Result<Journal::Counts> Journal::Count() {
  auto s = Prepare(
      "SELECT count(*), coalesce(sum(state = 'stored'), 0), coalesce(sum(state = 'excluded'), 0) FROM instances");
  if (!s) return Fail(s.error());
  if (sqlite3_step(s->get()) != SQLITE_ROW) {
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  }
  return Counts{static_cast<size_t>(sqlite3_column_int64(s->get(), 0)),
                static_cast<size_t>(sqlite3_column_int64(s->get(), 1)),
                static_cast<size_t>(sqlite3_column_int64(s->get(), 2))};
}

Result<size_t> Journal::ReconcileStored(const Lister& list) {
  if (auto ok = Exec("CREATE TEMP TABLE IF NOT EXISTS listed (key TEXT PRIMARY KEY, size INTEGER, crc32c TEXT);"
                     "DELETE FROM listed; BEGIN IMMEDIATE;");
      !ok) {
    return Fail(ok.error());
  }
  auto insert = Prepare("INSERT OR REPLACE INTO listed (key, size, crc32c) VALUES (?, ?, ?)");
  if (!insert) {
    (void)Exec("ROLLBACK");
    return Fail(insert.error());
  }
  sqlite3_stmt* q = insert->get();
  bool insert_failed = false;
  auto listed = list([&](const std::string& key, const storage::ObjectInfo& info) {
    sqlite3_reset(q);
    BindText(q, 1, key);
    sqlite3_bind_int64(q, 2, static_cast<int64_t>(info.size));
    BindText(q, 3, info.crc32c.empty() ? std::nullopt : std::optional<std::string>(info.crc32c));
    insert_failed |= sqlite3_step(q) != SQLITE_DONE;
  });
  if (!listed || insert_failed) {
    (void)Exec("ROLLBACK");
    if (!listed) return Fail(listed.error());
    return Fail(ErrorCode::kIo, fmt::format("journal: {}", sqlite3_errmsg(db_)));
  }
  // An entry stays stored only if both objects are listed with its size and (where both sides
  // keep one) its CRC-32C.
  if (auto ok = Exec(R"sql(
UPDATE instances SET state = 'pending' WHERE state = 'stored' AND NOT (
  EXISTS (SELECT 1 FROM listed l WHERE l.key = instances.dicom_key AND l.size = instances.dicom_bytes
          AND (l.crc32c IS NULL OR instances.dicom_crc32c IS NULL OR l.crc32c = instances.dicom_crc32c))
  AND EXISTS (SELECT 1 FROM listed l WHERE l.key = instances.jpg_key AND l.size = instances.jpg_bytes
          AND (l.crc32c IS NULL OR instances.jpg_crc32c IS NULL OR l.crc32c = instances.jpg_crc32c)));
DELETE FROM listed;
COMMIT;)sql");
      !ok) {
    (void)Exec("ROLLBACK");
    return Fail(ok.error());
  }
  auto counts = Count();
  if (!counts) return Fail(counts.error());
  return counts->stored;
}

Status Journal::Record(const std::vector<InstanceOutcome>& outcomes) {
  if (outcomes.empty()) return {};
  if (auto ok = Exec("BEGIN IMMEDIATE"); !ok) return ok;
  auto prepared = Prepare(
      "UPDATE instances SET state=?, attempts=attempts+1, downloaded=?, error_code=?, error_message=?, "
      "dicom_key=?, jpg_key=?, dicom_uri=?, jpg_uri=?, dicom_sha256=?, jpg_sha256=?, dicom_bytes=?, "
      "jpg_bytes=?, rows=?, columns=?, modality=?, photometric=?, transfer_syntax=?, window=?, "
      "dicom_crc32c=?, jpg_crc32c=?, patient=?, deid_report=?, deid_replacements=?, "
      "view_position=?, header_body_part=?, laterality=?, sex=?, age=?, patient_hash=?, "
      "updated_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE instance_id=?");
  if (!prepared) {
    (void)Exec("ROLLBACK");
    return Fail(prepared.error());
  }
  Statement& u = *prepared;
  for (const auto& o : outcomes) {
    sqlite3_reset(u.get());
    auto text = [&](int i, const std::string& v) {
      BindText(u.get(), i, v.empty() ? std::nullopt : std::optional<std::string>(v));
    };
    text(1, std::string(StateName(o.ToState())));
    sqlite3_bind_int(u.get(), 2, o.downloaded ? 1 : 0);
    text(3, std::string(o.ErrorCodeText()));
    text(4, o.ErrorText());
    text(5, o.dicom_key);
    text(6, o.jpg_key);
    text(7, o.dicom_uri);
    text(8, o.jpg_uri);
    text(9, o.dicom_sha256);
    text(10, o.jpg_sha256);
    sqlite3_bind_int64(u.get(), 11, static_cast<int64_t>(o.dicom_bytes));
    sqlite3_bind_int64(u.get(), 12, static_cast<int64_t>(o.jpg_bytes));
    sqlite3_bind_int64(u.get(), 13, o.rows);
    sqlite3_bind_int64(u.get(), 14, o.columns);
    text(15, o.modality);
    text(16, o.photometric);
    text(17, o.transfer_syntax);
    text(18, o.window);
    text(19, o.dicom_crc32c);
    text(20, o.jpg_crc32c);
    text(21, o.patient);
    BindText(u.get(), 22, o.deid_report);
    sqlite3_bind_int64(u.get(), 23, static_cast<int64_t>(o.deid_replacements));
    text(24, o.view_position);
    text(25, o.body_part);
    text(26, o.laterality);
    text(27, o.sex);
    text(28, o.age);
    text(29, o.patient_hash);
    text(30, o.instance_id);
    if (sqlite3_step(u.get()) != SQLITE_DONE) {
      const std::string message = sqlite3_errmsg(db_);
      (void)Exec("ROLLBACK");
      return Fail(ErrorCode::kIo, fmt::format("journal update: {}", message));
    }
  }
  return Exec("COMMIT");
}

}  // namespace eden::pipeline
