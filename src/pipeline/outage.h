#pragma once

#include <cstddef>
#include <string>

#include "pipeline/outcome.h"

namespace eden::pipeline {

/// Tells a DICOM server that is down from files that are missing or broken, so a run stops
/// instead of spending its retries on every remaining row (with the default 4 attempts and
/// backoff, ~3.5 s a row: hours on a large sample).
///
/// It trips after `threshold` outcomes in a row whose download could not reach the server
/// (connection refused, name not resolved, timeout, 5xx after the retries: kUnavailable or
/// kTimeout at the download step). An outcome that shows a server answered (stored, a 404, a
/// broken file) starts the count again, so a short outage or one bad host among several does
/// not stop the run. Rows that never got as far as a download (a NULL file_url, an unsafe
/// instance_id) neither count nor reset.
/// @par Thread-safety Not thread-safe: feed it from the thread that receives outcomes.
class OutageDetector {
 public:
  static constexpr size_t kDefaultThreshold = 32;
  explicit OutageDetector(size_t threshold = kDefaultThreshold) : threshold_(threshold) {}

  /// Counts one outcome; true once the threshold is reached (and from then on).
  bool Observe(const InstanceOutcome& outcome);
  bool tripped() const { return tripped_; }
  /// The outcomes in the current run of unreachable downloads.
  size_t streak() const { return streak_; }
  /// The last unreachable download's error, for the message.
  const std::string& last_error() const { return last_error_; }

  /// True when `outcome` failed because the download could not reach its server.
  static bool IsUnreachable(const InstanceOutcome& outcome);
  /// True when `outcome` failed before any download was tried.
  static bool NeverDownloaded(const InstanceOutcome& outcome);

 private:
  size_t threshold_;
  size_t streak_ = 0;
  bool tripped_ = false;
  std::string last_error_;
};

}  // namespace eden::pipeline
