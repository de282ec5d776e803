#include "http/retry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

namespace eden::http {

Sleeper RealSleeper() {
  return [](long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
}

long BackoffDelayMs(int attempt, long initial_ms, long max_ms, double unit_random) {
  const double cap =
      std::min<double>(static_cast<double>(max_ms), initial_ms * std::ldexp(1.0, std::max(0, attempt - 1)));
  return static_cast<long>(std::clamp(unit_random, 0.0, 1.0) * cap);
}

long BackoffPolicy::DelayMs(int attempt) const {
  double unit = 0;
  if (unit_random_) {
    unit = unit_random_();
  } else {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
  return BackoffDelayMs(attempt, initial_ms_, max_ms_, unit);
}

}  // namespace eden::http
