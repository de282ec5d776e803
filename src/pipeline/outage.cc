#include "pipeline/outage.h"

#include "core/error.h"

namespace eden::pipeline {

bool OutageDetector::IsUnreachable(const InstanceOutcome& outcome) {
  if (outcome.stored || outcome.downloaded) return false;
  if (outcome.error_code != ErrorCodeName(ErrorCode::kUnavailable) &&
      outcome.error_code != ErrorCodeName(ErrorCode::kTimeout)) {
    return false;
  }
  // The download step prefixes its errors (FetchInstance); a store or worker error is not the
  // DICOM server's.
  return outcome.error_message.rfind("download: ", 0) == 0;
}

bool OutageDetector::NeverDownloaded(const InstanceOutcome& outcome) {
  // FetchInstance rejects these rows before asking any server, without the "download: " prefix.
  return !outcome.stored && !outcome.downloaded && outcome.error_code == ErrorCodeName(ErrorCode::kInvalidArgument) &&
         outcome.error_message.rfind("download: ", 0) != 0;
}

bool OutageDetector::Observe(const InstanceOutcome& outcome) {
  if (tripped_) return true;
  if (NeverDownloaded(outcome)) return false;
  if (!IsUnreachable(outcome)) {
    streak_ = 0;
    return false;
  }
  ++streak_;
  last_error_ = outcome.error_message;
  tripped_ = streak_ >= threshold_;
  return tripped_;
}

}  // namespace eden::pipeline
