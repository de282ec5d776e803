#pragma once

#include <functional>

#include "core/result.h"

namespace eden::http {

/// Waits `ms` milliseconds; injected so tests of retry loops do not sleep.
using Sleeper = std::function<void(long ms)>;

/// std::this_thread::sleep_for.
Sleeper RealSleeper();

/// Exponential backoff with full jitter (AWS architecture blog / Google retry guidance): the
/// delay before retry `attempt` (1-based) is uniform in [0, min(max, initial * 2^(attempt-1))].
/// `unit_random` is a number in [0, 1). Pure.
long BackoffDelayMs(int attempt, long initial_ms, long max_ms, double unit_random);

/// How often to try and what is worth another try (as google-cloud-cpp's RetryPolicy): at most
/// `max_attempts` attempts, the first included; transient failures (kUnavailable, kTimeout) only.
class RetryPolicy {
 public:
  explicit RetryPolicy(int max_attempts) : max_attempts_(max_attempts < 1 ? 1 : max_attempts) {}
  int max_attempts() const { return max_attempts_; }
  bool IsRetryable(const Error& error) const { return error.IsTransient(); }

 private:
  int max_attempts_;
};

/// How long to wait before each retry (as google-cloud-cpp's BackoffPolicy): BackoffDelayMs with
/// a random number per call, from `unit_random` if given (tests), else a per-thread generator.
/// @par Thread-safety DelayMs may be called from many threads when no `unit_random` is given.
class BackoffPolicy {
 public:
  BackoffPolicy(long initial_ms, long max_ms, std::function<double()> unit_random = {})
      : initial_ms_(initial_ms), max_ms_(max_ms), unit_random_(std::move(unit_random)) {}
  long DelayMs(int attempt) const;
  long initial_ms() const { return initial_ms_; }
  long max_ms() const { return max_ms_; }

 private:
  long initial_ms_, max_ms_;
  std::function<double()> unit_random_;
};

/// What a retry loop tells its caller about, and the one non-transient failure it can mend.
struct RetryHooks {
  /// Called on a kUnauthenticated failure, at most once per loop (an expired or revoked token):
  /// true means "fetched new credentials, try again now" (not counted as an attempt).
  std::function<bool()> refresh;
  /// Called before each wait, with the failure and the attempt that failed (counters, logs).
  std::function<void(const Error&, int attempt)> on_retry;
};

/// Runs `attempt` until it succeeds, fails with an error the policy does not retry, or the
/// policy's attempts are used up, sleeping backoff.DelayMs(n) after failed attempt n. Returns the
/// last result as it is; `*attempts` (if given) is the number of counted attempts made.
template <class T>
Result<T> RetryLoop(const RetryPolicy& policy, const BackoffPolicy& backoff, const Sleeper& sleep,
                    const std::function<Result<T>()>& attempt, int* attempts = nullptr, const RetryHooks& hooks = {}) {
  bool refreshed = false;
  for (int n = 1;; ++n) {
    if (attempts) *attempts = n;
    Result<T> result = attempt();
    if (result) return result;
    const Error& e = result.error();
    if (e.code() == ErrorCode::kUnauthenticated && !refreshed && hooks.refresh) {
      refreshed = true;
      if (hooks.refresh()) {
        --n;  // The retry with new credentials is not counted.
        continue;
      }
      return result;
    }
    if (!policy.IsRetryable(e) || n >= policy.max_attempts()) return result;
    if (hooks.on_retry) hooks.on_retry(e, n);
    if (sleep) sleep(backoff.DelayMs(n));
  }
}

}  // namespace eden::http
