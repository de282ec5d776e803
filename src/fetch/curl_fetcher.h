#pragma once

#include <functional>
#include <memory>

#include "fetch/fetcher.h"

namespace eden::fetch {

/// Waits `ms` milliseconds; injected so tests of the retry loop do not sleep.
using Sleeper = std::function<void(long ms)>;

/// Fetcher over libcurl: one easy handle reused across calls (keep-alive), retries with
/// backoff on timeouts, connection errors, 408/429/5xx.
std::unique_ptr<Fetcher> MakeCurlFetcher(const FetchOptions& options, Sleeper sleeper = {});

/// curl_global_init, once per process, before any thread starts.
void InitialiseCurlOnce();

}  // namespace eden::fetch
