#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "pipeline/outcome.h"
#include "storage/object_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace eden::pipeline {

/// The run's memory: a SQLite database (WAL) beside the output. The first run freezes the
/// selected rows into it, so a rerun processes the same sample (re-running ORDER BY random
/// would not); every outcome is recorded as it happens, so a rerun after a crash skips what
/// is stored. The CSV is always rebuilt from it: no duplicate rows, whatever the crashes.
/// @par Thread-safety Use from one thread (the run's main thread).
class Journal {
 public:
  static Result<std::unique_ptr<Journal>> Open(const std::filesystem::path& path);
  /// Opens an existing journal read-only (`eden status`, beside a run that is writing it: WAL
  /// lets both proceed). kNotFound when there is none; nothing is created or changed.
  static Result<std::unique_ptr<Journal>> OpenForReading(const std::filesystem::path& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// True once Freeze committed.
  Result<bool> IsFrozen();
  /// Forgets everything (--fresh).
  Status Reset();
  /// What Freeze kept: rows, and rows dropped because their instance id came earlier in the
  /// selection (the first is kept; the count is also in Meta() as "duplicate_rows").
  struct FreezeReport {
    size_t studies = 0;  ///< Append: studies added.
    size_t rows = 0;
    size_t duplicates = 0;
    std::vector<std::string> duplicate_examples;  ///< The first kDuplicateExamples ids.
  };
  static constexpr size_t kDuplicateExamples = 10;
  /// Stores the sample in one transaction, a page at a time: `next_page` is called until it
  /// returns an empty page (the sample is never held whole in memory), then `meta` is stored
  /// and the journal marked frozen. Nothing is frozen if a call fails.
  using PageSource = std::function<Result<std::vector<source::InstanceRow>>()>;
  Result<FreezeReport> Freeze(const PageSource& next_page, const std::map<std::string, std::string>& meta);
  /// The same for a sample already in memory.
  /// `eden run --incremental`: adds to the frozen sample, after its last entry, the rows of
  /// every study the journal does not hold yet (rows of a study it holds are skipped, whatever
  /// their instance); the meta stays. `report.rows` = rows added, `report.studies` = their studies.
  Result<FreezeReport> Append(const PageSource& next_page);
  /// A consistent copy of the journal at `path` (SQLite's online backup: safe while it is written).
  Status BackupTo(const std::filesystem::path& path);
  Result<FreezeReport> Freeze(const std::vector<source::InstanceRow>& rows,
                              const std::map<std::string, std::string>& meta);
  /// The key/value pairs stored by Freeze. A table that cannot be read is an error (kIo).
  Result<std::map<std::string, std::string>> Meta();
  /// Sets one of them.
  Status SetMeta(const std::string& key, const std::string& value);
  /// Those of `ids` that are not in the sample.
  Result<std::vector<std::string>> NotInSample(const std::vector<std::string>& ids);

  struct Counts {
    size_t total = 0, stored = 0, excluded = 0;
  };
  Result<Counts> Count();

  /// Where a run is, for `eden status`: every entry counted by state, failures by error code,
  /// and how many outcomes were recorded in the last `window_s` seconds.
  struct Progress {
    size_t total = 0, stored = 0, failed = 0, excluded = 0, pending = 0;
    std::map<std::string, size_t> failed_by_code;
    size_t recent = 0;        ///< Outcomes recorded in the window.
    std::string last_update;  ///< The newest outcome's time (UTC, ISO 8601); empty if none.
  };
  Result<Progress> ProgressNow(int window_s = 60);
  /// The newest failures, newest first, for the dashboard.
  struct FailureRow {
    std::string instance_id, error_code, error_message, updated_at;
  };
  Result<std::vector<FailureRow>> LatestFailures(int limit);
  /// Outcomes per interval from the first recorded outcome to the last, in at most `buckets`
  /// intervals of whole seconds (throughput over time).
  struct Timeline {
    std::string start;  ///< The first outcome's time; empty if there is none.
    double width_s = 0;
    std::vector<size_t> counts;
  };
  Result<Timeline> OutcomeTimeline(int buckets);
  /// What the dataset holds so far: stored instances, their studies and bytes.
  struct Stored {
    size_t images = 0, studies = 0;
    uint64_t dicom_bytes = 0, jpg_bytes = 0;
  };
  Result<Stored> StoredCounts();
  /// Marks stored entries pending again unless both their objects are among those `list`
  /// reports, with the recorded size (and CRC-32C where both sides have one). The listing goes
  /// through a temporary table, not memory. Returns how many entries stay stored.
  using Lister = std::function<Status(const storage::ObjectStore::Visitor&)>;
  Result<size_t> ReconcileStored(const Lister& list);
  /// Up to `limit` entries not stored with seq > `after_seq`, in sample order: keyset pages
  /// of the work left (an outcome recorded meanwhile does not shift the next page).
  Result<std::vector<JournalEntry>> PendingAfter(int64_t after_seq, size_t limit);
  /// Every entry, one at a time, in the CSV's order: study, series number, instance number, id.
  Status ForEachInCsvOrder(const std::function<void(const JournalEntry&)>& visit);
  /// Records outcomes in one transaction (stored / failed, attempts + 1).
  Status Record(const std::vector<InstanceOutcome>& outcomes);

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* s) const;
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  explicit Journal(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  /// A prepared statement, or kIo with SQLite's message.
  Result<Statement> Prepare(const char* sql);
  /// Inserts `row` at `seq` with `insert` (kInsertRow); an instance id the journal holds already
  /// is not inserted but counted in `report` as a duplicate. Returns whether it was inserted.
  Result<bool> InsertCounted(sqlite3_stmt* insert, const source::InstanceRow& row, int64_t seq, FreezeReport& report);
  /// Runs `sql_tail` ("WHERE ... ORDER BY ...", with ?1.. bound by `bind`) over the entry
  /// columns and calls `visit` for each row.
  Status Select(const std::string& sql_tail, const std::function<void(sqlite3_stmt*)>& bind,
                const std::function<void(JournalEntry&&)>& visit);
  sqlite3* db_;
};

}  // namespace eden::pipeline
