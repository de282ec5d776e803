#pragma once

#include <string>

#include "core/error.h"

namespace eden::http {

/// Whether an HTTP status is worth retrying: 408, 429 and 5xx; never other 4xx.
bool IsRetryableHttpStatus(long status);

/// The error a non-2xx status means, for every caller alike: 401 kUnauthenticated, 403
/// kPermissionDenied, 404/410 kNotFound, 412 kFailedPrecondition, 408/429/5xx kUnavailable
/// (retryable), any other kInvalidArgument. The message is "`what`: HTTP <status>[: `detail`]".
/// Pure.
Error ErrorForStatus(long status, const std::string& what, const std::string& detail = {});

}  // namespace eden::http
