#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "pipeline/outcome.h"

struct sqlite3;

namespace eden::pipeline {

/// The run's memory: a SQLite database (WAL) beside the output. The first run freezes the
/// selected rows into it, so a rerun processes the same sample (re-running ORDER BY random
/// would not); every outcome is recorded as it happens, so a rerun after a crash skips what
/// is stored. The CSV is always rebuilt from it: no duplicate rows, whatever the crashes.
/// @par Thread-safety Use from one thread (the run's main thread).
class Journal {
 public:
  static Result<std::unique_ptr<Journal>> Open(const std::filesystem::path& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// True once Freeze committed.
  Result<bool> IsFrozen();
  /// Forgets everything (--fresh).
  Status Reset();
  /// Stores the sample and its parameters in one transaction, then marks the journal frozen.
  Status Freeze(const std::vector<source::InstanceRow>& rows, const std::map<std::string, std::string>& meta);
  Result<std::map<std::string, std::string>> Meta();
  /// Entries not yet stored, in sample order.
  Result<std::vector<JournalEntry>> Pending();
  /// Every entry, in sample order.
  Result<std::vector<JournalEntry>> All();
  /// Records outcomes in one transaction (stored / failed, attempts + 1).
  Status Record(const std::vector<InstanceOutcome>& outcomes);
  /// Marks a stored entry pending again (its objects went missing).
  Status Invalidate(const std::string& instance_id);

 private:
  explicit Journal(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Result<std::vector<JournalEntry>> Select(const char* where);
  sqlite3* db_;
};

}  // namespace eden::pipeline
