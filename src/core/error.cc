#include "core/error.h"

#include <fmt/format.h>

namespace eden {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotDicom:
      return "not_dicom";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kNoPixelData:
      return "no_pixel_data";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kCorruptPixelData:
      return "corrupt_pixel_data";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kForbiddenUrl:
      return "forbidden_url";
    case ErrorCode::kEmptySelection:
      return "empty_selection";
    case ErrorCode::kExcluded:
      return "excluded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::optional<ErrorCode> ParseErrorCode(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

Error Error::WithContext(std::string_view context) const {
  return Error(code_, fmt::format("{}: {}", context, message_));
}

std::string Error::ToString() const { return fmt::format("{}: {}", ErrorCodeName(code_), message_); }

}  // namespace eden
