#pragma once

#include <cstddef>
#include <string>

#include "pipeline/outcome.h"

namespace eden::pipeline {

/// Tells an outage from bad rows, so a run stops instead of failing every remaining row one by
/// one: a DICOM server that is down (with the default 4 attempts and backoff, ~3.5 s a row:
/// hours on a large sample), or a destination that no longer takes objects (disk full, bucket
/// unreachable after the store's own retries).
///
/// It trips after `threshold` outcomes in a row of one kind:
/// - the download could not reach its server (connection refused, unknown host, timeout, 5xx
///   after the retries: kUnavailable or kTimeout at the download step). An outcome that shows a
///   server answered (a stored file, a 404, a broken body) starts that count again, so a short
///   outage or one bad host among several does not stop the run; rows rejected before any
///   download (a NULL file_url, an unsafe instance_id) neither count nor reset it.
/// - storing an object failed with kUnavailable, kTimeout or kIo. A stored object resets it.
/// @par Thread-safety Not thread-safe: feed it from the thread that receives outcomes.
class OutageDetector {
 public:
  static constexpr size_t kDefaultThreshold = 32;
  enum class Where { kNone, kDicomServer, kDestination };

  explicit OutageDetector(size_t threshold = kDefaultThreshold) : threshold_(threshold) {}

  /// Counts one outcome; true once either count reaches the threshold (and from then on).
  bool Observe(const InstanceOutcome& outcome);
  bool tripped() const { return where_ != Where::kNone; }
  Where where() const { return where_; }
  size_t source_streak() const { return source_streak_; }
  size_t destination_streak() const { return destination_streak_; }
  /// Why the run stopped, for the user: what failed, the last error, what is left and what to do.
  std::string Describe(size_t not_attempted, size_t pending) const;

  /// The download could not reach its server.
  static bool IsUnreachable(const InstanceOutcome& outcome);
  /// The destination did not take an object.
  static bool IsUnwritable(const InstanceOutcome& outcome);
  /// The row failed before any download was tried.
  static bool NeverDownloaded(const InstanceOutcome& outcome);

 private:
  size_t threshold_;
  size_t source_streak_ = 0, destination_streak_ = 0;
  Where where_ = Where::kNone;
  std::string last_source_error_, last_destination_error_;
};

}  // namespace eden::pipeline
