#include "http/status.h"

#include <fmt/format.h>

namespace eden::http {

bool IsRetryableHttpStatus(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

Error ErrorForStatus(long status, const std::string& what, const std::string& detail) {
  const std::string text = fmt::format("{}: HTTP {}{}", what, status, detail.empty() ? "" : ": " + detail);
  if (status == 401) return Error(ErrorCode::kUnauthenticated, text);
  if (status == 403) return Error(ErrorCode::kPermissionDenied, text);
  if (status == 404 || status == 410) return Error(ErrorCode::kNotFound, text);
  if (status == 412) return Error(ErrorCode::kFailedPrecondition, text);
  if (IsRetryableHttpStatus(status)) return Error(ErrorCode::kUnavailable, text);
  return Error(ErrorCode::kInvalidArgument, text);
}

}  // namespace eden::http
