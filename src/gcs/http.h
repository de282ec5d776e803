#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eden::gcs {

/// One HTTP request, as plain data.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  ///< "Name: value"
  std::span<const uint8_t> body;     ///< Sent for POST/PUT/PATCH (may be empty).
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  ///< Names in lower case.
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpOptions {
  long connect_timeout_ms = 10'000;
  long low_speed_timeout_s = 30;    ///< Abort a transfer under 1 KB/s for this long.
  long total_timeout_ms = 600'000;  ///< Whole request.
  std::string ca_file;              ///< Extra CA bundle (certificates are always verified).
};

/// A libcurl adapter: one request per call, no retries (the client's retry loop owns those).
/// Connections are kept alive in a pool of easy handles, so N threads can have N requests in
/// flight. Transport failures are typed: kUnavailable (refused, reset, cut mid-body) or kTimeout.
/// @par Thread-safety Safe to call from many threads.
class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);

  HttpOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, each with its own live connections.
};

/// Percent-encodes everything but RFC 3986 unreserved characters (object names in URL paths
/// and query values: "a/b c" -> "a%2Fb%20c").
std::string UrlEncode(std::string_view text);

}  // namespace eden::gcs
