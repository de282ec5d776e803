#include "pipeline/outcome.h"

#include <fmt/format.h>

namespace eden::pipeline {

std::string_view StepName(Step step) {
  switch (step) {
    case Step::kNone:
      return "";
    case Step::kDownload:
      return "download";
    case Step::kDeidentify:
      return "de-identify";
    case Step::kConvert:
      return "convert";
    case Step::kStoreDicom:
      return "store DICOM";
    case Step::kStoreJpeg:
      return "store JPEG";
  }
  return "";
}

std::pair<Step, std::string_view> SplitStep(std::string_view text) {
  for (Step step : {Step::kDownload, Step::kDeidentify, Step::kConvert, Step::kStoreDicom, Step::kStoreJpeg}) {
    const std::string_view name = StepName(step);
    if (text.size() > name.size() + 1 && text.substr(0, name.size()) == name && text.substr(name.size(), 2) == ": ")
      return {step, text.substr(name.size() + 2)};
  }
  return {Step::kNone, text};
}

std::string_view StateName(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kStored:
      return "stored";
    case State::kFailed:
      return "failed";
    case State::kExcluded:
      return "excluded";
  }
  return "pending";
}

State ParseState(std::string_view name) {
  if (name == "stored") return State::kStored;
  if (name == "failed") return State::kFailed;
  if (name == "excluded") return State::kExcluded;
  return State::kPending;
}

std::string InstanceOutcome::ErrorText() const {
  if (!error) return "";
  if (failed_step == Step::kNone) return error->message();
  return fmt::format("{}: {}", StepName(failed_step), error->message());
}

void InstanceOutcome::SetErrorFromText(std::string_view code, std::string_view text) {
  failed_step = Step::kNone;
  error.reset();
  if (code.empty() && text.empty()) return;
  const auto [step, reason] = SplitStep(text);
  failed_step = step;
  if (auto known = ParseErrorCode(code)) {
    error = Error(*known, std::string(reason));
  } else {
    error = Error(ErrorCode::kInternal, fmt::format("{}: {}", code.empty() ? "no error code" : code, reason));
  }
}

}  // namespace eden::pipeline
