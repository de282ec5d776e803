#include "pipeline/outage.h"

#include <fmt/format.h>

#include "core/error.h"

namespace eden::pipeline {
namespace {

bool CodeIs(const InstanceOutcome& o, ErrorCode code) { return o.error_code == ErrorCodeName(code); }

}  // namespace

bool OutageDetector::IsUnreachable(const InstanceOutcome& o) {
  return !o.stored && !o.downloaded && (CodeIs(o, ErrorCode::kUnavailable) || CodeIs(o, ErrorCode::kTimeout)) &&
         FailedAt(o, step::kDownload);
}

bool OutageDetector::IsUnwritable(const InstanceOutcome& o) {
  return !o.stored &&
         (CodeIs(o, ErrorCode::kUnavailable) || CodeIs(o, ErrorCode::kTimeout) || CodeIs(o, ErrorCode::kIo)) &&
         (FailedAt(o, step::kStoreDicom) || FailedAt(o, step::kStoreJpeg));
}

bool OutageDetector::NeverDownloaded(const InstanceOutcome& o) {
  return !o.stored && !o.downloaded && CodeIs(o, ErrorCode::kInvalidArgument) && !FailedAt(o, step::kDownload);
}

bool OutageDetector::Observe(const InstanceOutcome& o) {
  if (tripped()) return true;
  if (IsUnwritable(o)) {
    last_destination_error_ = o.error_message;
    if (++destination_streak_ >= threshold_) where_ = Where::kDestination;
  } else if (o.downloaded || o.stored) {
    destination_streak_ = 0;
  }
  if (IsUnreachable(o)) {
    last_source_error_ = o.error_message;
    if (++source_streak_ >= threshold_ && !tripped()) where_ = Where::kDicomServer;
  } else if (!NeverDownloaded(o)) {
    source_streak_ = 0;
  }
  return tripped();
}

std::string OutageDetector::Describe(size_t not_attempted, size_t pending) const {
  const std::string left = fmt::format(
      "{} of the {} pending instances were not attempted. Everything that finished is in the journal: run the same "
      "command again to resume",
      not_attempted, pending);
  switch (where_) {
    case Where::kDicomServer:
      return fmt::format(
          "stopped: {} downloads in a row could not reach their DICOM server (last: {}); {} once the "
          "server answers.",
          source_streak_, last_source_error_, left);
    case Where::kDestination:
      return fmt::format(
          "stopped: {} objects in a row could not be written to the destination (last: {}); {} once "
          "it takes objects again.",
          destination_streak_, last_destination_error_, left);
    case Where::kNone:
      break;
  }
  return "not stopped";
}

}  // namespace eden::pipeline
