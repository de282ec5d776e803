#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fetch/fetcher.h"
#include "fetch/url_policy.h"
#include "http/retry.h"
#include "http/transport.h"

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

/// A Fetcher over any http::Transport: each URL and each redirect hop checked against
/// FetchOptions::policy before it is requested (at most 5 hops, web to web only), statuses mapped
/// by http::ErrorForStatus, transient failures retried by http::RetryLoop (FetchOptions'
/// attempts and full-jitter backoff).
std::unique_ptr<Fetcher> MakeHttpFetcher(const FetchOptions& options, std::shared_ptr<http::Transport> transport,
                                         http::Sleeper sleeper = {});

/// MakeHttpFetcher over its own libcurl transport (keep-alive connections for one thread).
std::unique_ptr<Fetcher> MakeCurlFetcher(const FetchOptions& options, http::Sleeper sleeper = {});

}  // namespace eden::fetch
