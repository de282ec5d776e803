#pragma once

#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace eden::fetch {

/// Downloads one instance's file by URL. Failures are typed: kForbiddenUrl (refused by the URL
/// policy, a redirect included), kNotFound (404/410 or a missing file), kUnauthenticated /
/// kPermissionDenied (401/403), kInvalidArgument (other 4xx, bad URL), kTooLarge,
/// kUnavailable / kTimeout (transient, after the retries ran out).
/// The body comes back page-aligned (core/bytes.h), so a local store writes it without a copy.
/// @par Thread-safety One Fetcher per thread.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Result<Bytes> Fetch(const std::string& url) = 0;
  /// Retries this fetcher made after transient failures, since it was made (for /metrics).
  virtual uint64_t retries() const { return 0; }
};

}  // namespace eden::fetch
