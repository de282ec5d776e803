#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "fetch/url_policy.h"

namespace eden::fetch {

/// How downloads behave. Plain data with defaults; loaded once from configuration.
struct FetchOptions {
  long connect_timeout_ms = 10'000;        ///< TCP + TLS handshake.
  long low_speed_timeout_s = 30;           ///< Abort if under 1 KB/s for this long (a stalled server).
  long total_timeout_ms = 300'000;         ///< Whole transfer.
  uint64_t max_bytes = uint64_t{2} << 30;  ///< Size cap: bigger bodies are refused.
  int max_attempts = 4;                    ///< Including the first.
  long backoff_initial_ms = 200;
  long backoff_max_ms = 10'000;
  std::string ca_file;  ///< Extra CA bundle for https (certificates are always verified).
  UrlPolicy policy;     ///< Which URLs may be fetched (file:// only where allowed).
};

/// Exponential backoff with full jitter (AWS architecture blog / Google retry guidance): the
/// delay before retry `attempt` (1-based) is uniform in [0, min(max, initial * 2^(attempt-1))].
/// `unit_random` is a number in [0, 1). Pure.
long BackoffDelayMs(int attempt, long initial_ms, long max_ms, double unit_random);

/// A URL fit for messages: no query string or fragment (signed URLs and upload session ids
/// carry secrets) and no password (redis://user:secret@host -> redis://user@host); the user
/// name and an '@' in the path are kept. Pure (libcurl's URL API).
std::string RedactUrl(const std::string& url);

/// Whether an HTTP status is worth retrying: 408, 429 and 5xx; never other 4xx.
bool IsRetryableHttpStatus(long status);

/// Downloads URLs that FetchOptions::policy allows: http, https (verified) and file. Failures
/// are typed: kForbiddenUrl (refused by the policy, a redirect included), kNotFound (404/410 or
/// a missing file), kInvalidArgument (other 4xx, bad URL), kTooLarge,
/// kUnavailable / kTimeout (transient, after the retries ran out).
/// The body comes back page-aligned (core/bytes.h), so a local store writes it without a copy.
/// @par Thread-safety One Fetcher per thread (each keeps its connections alive).
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Result<Bytes> Fetch(const std::string& url) = 0;
  /// Retries this fetcher made after transient failures, since it was made (for /metrics).
  virtual uint64_t retries() const { return 0; }
};

}  // namespace eden::fetch
