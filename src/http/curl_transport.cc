#include "http/curl_transport.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "http/url.h"

namespace eden::http {
namespace {

struct Sink {
  HttpResponse* response = nullptr;
  uint64_t max_bytes = 0;  ///< 0: none.
  uint64_t expected = 0;   ///< Content-Length, once the headers are in.
  bool too_large = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  auto& headers = sink->response->headers;
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    headers.clear();  // A new response (after 100 Continue) starts over.
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    if (name == "content-length") {
      uint64_t n = 0;
      if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }) && !value.empty() &&
          value.size() < 19) {
        for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
        sink->expected = n;
      }
    }
    headers[name] = std::string(value);
  }
  return size * count;
}

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  Bytes& body = sink->response->body;
  if (sink->max_bytes != 0 && body.size() + n > sink->max_bytes) {
    sink->too_large = true;
    return 0;  // Aborts the transfer.
  }
  // One allocation of the announced size (no doubling), then one memcpy per block.
  const uint64_t announced = sink->max_bytes == 0 || sink->expected <= sink->max_bytes ? sink->expected : 0;
  AppendTo(body, {reinterpret_cast<const uint8_t*>(data), n}, static_cast<size_t>(announced));
  return n;
}

Error MapCurlError(CURLcode rc, const std::string& what) {
  const std::string text = fmt::format("{}: {}", what, curl_easy_strerror(rc));
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error(ErrorCode::kTimeout, text);
    case CURLE_FILE_COULDNT_READ_FILE:
      return Error(ErrorCode::kNotFound, text);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_CONTENT_ENCODING:
      return Error(ErrorCode::kInvalidArgument, text);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Error(ErrorCode::kUnavailable, text + " (TLS certificate not trusted)");
    default:
      // Refused, reset, unresolved, cut mid-body, HTTP/2 stream errors, TLS handshakes, and what
      // libcurl may add: transient, so retried a bounded number of times.
      return Error(ErrorCode::kUnavailable, text);
  }
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {}
  ~CurlTransport() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override {
    CURL* h = Acquire();
    if (!h) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
    HttpResponse response;
    Sink sink{&response, request.max_response_bytes, 0, false};
    curl_easy_reset(h);  // Keeps the handle's connection cache.
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, request.file ? "file" : "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // Callers check each hop first.
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_timeout_s);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);  // Fewer recv calls and callbacks per file.
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    if (request.max_response_bytes != 0)
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_response_bytes));
    if (request.accept_encoding) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate if offered.

    const bool has_body = request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
    if (request.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (has_body) {
      // POSTFIELDS with an explicit size sends the bytes as they are, whatever the method.
      static const char kEmpty[] = "";
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                       request.body.empty() ? kEmpty : reinterpret_cast<const char*>(request.body.data()));
    }
    curl_slist* headers = nullptr;
    if (!request.file) {
      for (const auto& line : request.headers) headers = curl_slist_append(headers, line.c_str());
      headers = curl_slist_append(headers, "Expect:");  // No 100-continue round trip per chunk.
      const bool has_type = std::any_of(request.headers.begin(), request.headers.end(), [](const std::string& line) {
        return line.size() > 13 && strncasecmp(line.c_str(), "content-type:", 13) == 0;
      });
      if (has_body && !has_type) headers = curl_slist_append(headers, "Content-Type:");  // not curl's form type
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }

    const CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(headers);
    if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      curl_easy_cleanup(h);
      return Fail(ErrorCode::kTooLarge,
                  fmt::format("{} is larger than {} bytes", RedactUrl(request.url), request.max_response_bytes));
    }
    if (rc != CURLE_OK) {
      curl_easy_cleanup(h);  // A broken connection is not worth keeping.
      return Fail(MapCurlError(
          rc, request.file ? RedactUrl(request.url) : fmt::format("{} {}", request.method, RedactUrl(request.url))));
    }
    if (!request.file && response.status >= 300 && response.status <= 399) {
      char* next = nullptr;
      if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next != nullptr) {
        response.redirect_url = next;
      }
    }
    Release(h);
    return response;
  }

 private:
  CURL* Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* h) {
    std::lock_guard lock(mu_);
    idle_.push_back(h);
  }

  TransportOptions options_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

}  // namespace

void InitialiseCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::shared_ptr<Transport> MakeCurlTransport(TransportOptions options) {
  InitialiseCurlOnce();
  return std::make_shared<CurlTransport>(std::move(options));
}

}  // namespace eden::http
