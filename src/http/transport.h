#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace eden::http {

/// One HTTP request, as plain data.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  ///< "Name: value"
  std::span<const uint8_t> body;     ///< Sent for POST/PUT/PATCH (may be empty).
  /// file:// instead of http(s):// (downloads from a folder --allow-url allows). Never both:
  /// a request made for the web cannot be pointed at the disk.
  bool file = false;
  /// Refuse bodies bigger than this (kTooLarge); 0: no limit.
  uint64_t max_response_bytes = 0;
  /// Ask for gzip/deflate and decode it (downloads; GCS objects are stored as sent).
  bool accept_encoding = false;
};

/// An answer of any status: what a status means is the caller's (status.h maps the common ones).
struct HttpResponse {
  long status = 0;                             ///< 0 for file://.
  std::map<std::string, std::string> headers;  ///< Names in lower case; the last response's only.
  Bytes body;                                  ///< Page-aligned (core/bytes.h): written to disk as it is.
  std::string redirect_url;                    ///< A 3xx's Location, made absolute; else empty.

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string_view Text() const { return {reinterpret_cast<const char*>(body.data()), body.size()}; }
};

/// Sends one request and returns the answer, whatever its status; no retries, no redirects
/// followed (callers check each hop). Transport failures are typed (curl_transport.h).
/// @par Thread-safety Implementations are safe to call from many threads.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace eden::http
