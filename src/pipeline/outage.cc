#include "pipeline/outage.h"

#include <fmt/format.h>

#include "core/error.h"

namespace eden::pipeline {
bool OutageDetector::IsUnreachable(const InstanceOutcome& o) {
  return !o.downloaded && o.FailedAt(Step::kDownload) && o.error->IsTransient();
}

bool OutageDetector::IsUnwritable(const InstanceOutcome& o) {
  return (o.FailedAt(Step::kStoreDicom) || o.FailedAt(Step::kStoreJpeg)) &&
         (o.error->IsTransient() || o.error->code() == ErrorCode::kIo);
}

bool OutageDetector::NeverDownloaded(const InstanceOutcome& o) {
  return !o.downloaded && o.FailedWith(ErrorCode::kInvalidArgument) && o.failed_step != Step::kDownload;
}

bool OutageDetector::Observe(const InstanceOutcome& o) {
  if (tripped()) return true;
  if (IsUnwritable(o)) {
    last_destination_error_ = o.ErrorText();
    if (++destination_streak_ >= threshold_) where_ = Where::kDestination;
  } else if (o.downloaded || o.stored) {
    destination_streak_ = 0;
  }
  if (IsUnreachable(o)) {
    last_source_error_ = o.ErrorText();
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
