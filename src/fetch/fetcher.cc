#include "fetch/fetcher.h"

#include <algorithm>
#include <cmath>

namespace eden::fetch {

long BackoffDelayMs(int attempt, long initial_ms, long max_ms, double unit_random) {
  const double cap =
      std::min<double>(static_cast<double>(max_ms), initial_ms * std::ldexp(1.0, std::max(0, attempt - 1)));
  return static_cast<long>(std::clamp(unit_random, 0.0, 1.0) * cap);
}

std::string RedactUrl(const std::string& url) {
  std::string out = url.substr(0, url.find('?'));
  const auto scheme = out.find("://");
  const auto at = out.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) out.erase(scheme + 3, at - scheme - 2);
  return out;
}

bool IsRetryableHttpStatus(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

}  // namespace eden::fetch
