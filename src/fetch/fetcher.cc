#include "fetch/fetcher.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <curl/curl.h>

namespace eden::fetch {

long BackoffDelayMs(int attempt, long initial_ms, long max_ms, double unit_random) {
  const double cap =
      std::min<double>(static_cast<double>(max_ms), initial_ms * std::ldexp(1.0, std::max(0, attempt - 1)));
  return static_cast<long>(std::clamp(unit_random, 0.0, 1.0) * cap);
}

std::string RedactUrl(const std::string& url) {
  // libcurl's URL parser, for any scheme (redis:// too): keeps the user name (a Redis ACL user
  // says which account), drops the password, the query and the fragment; an '@' in the path
  // is the path's.
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (u && curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    char* user = nullptr;
    if (curl_url_get(u.get(), CURLUPART_USER, &user, 0) == CURLUE_OK && user != nullptr && *user == '\0') {
      curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);  // "redis://:secret@host": no user to show.
    }
    curl_free(user);
    curl_url_set(u.get(), CURLUPART_QUERY, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
    char* text = nullptr;
    if (curl_url_get(u.get(), CURLUPART_URL, &text, 0) == CURLUE_OK && text != nullptr) {
      std::string out(text);
      curl_free(text);
      return out;
    }
  }
  // Not a URL libcurl reads: no query, and nothing between "://" and the host's '@'.
  std::string out = url.substr(0, url.find_first_of("?#"));
  const auto scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const auto authority_end = out.find('/', scheme + 3);
  const auto at = out.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at != std::string::npos && at > scheme) out.erase(scheme + 3, at - scheme - 2);
  return out;
}

bool IsRetryableHttpStatus(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

}  // namespace eden::fetch
