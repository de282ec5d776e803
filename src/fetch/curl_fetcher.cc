#include "fetch/curl_fetcher.h"

#include <curl/curl.h>

#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

namespace eden::fetch {
namespace {

struct Body {
  Bytes bytes;
  uint64_t max_bytes = 0;
  uint64_t expected = 0;  ///< Content-Length, once the headers are in.
  bool too_large = false;
  CURL* handle = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  curl_off_t length = -1;
  if (curl_easy_getinfo(body->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK && length > 0) {
    body->expected = static_cast<uint64_t>(length);
  }
  (void)data;
  return size * count;
}

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t n = size * count;
  if (body->bytes.size() + n > body->max_bytes) {
    body->too_large = true;
    return 0;  // Aborts the transfer.
  }
  // One allocation of the announced size (no doubling), then one memcpy per block.
  const size_t announced = body->expected <= body->max_bytes ? body->expected : 0;
  AppendTo(body->bytes, {reinterpret_cast<const uint8_t*>(data), n}, announced);
  return n;
}

class CurlFetcher final : public Fetcher {
 public:
  CurlFetcher(FetchOptions options, Sleeper sleeper)
      : options_(std::move(options)),
        sleeper_(std::move(sleeper)),
        handle_(curl_easy_init()),
        rng_(std::random_device{}()) {
    if (!sleeper_) sleeper_ = [](long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  }
  ~CurlFetcher() override {
    if (handle_) curl_easy_cleanup(handle_);
  }
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  uint64_t retries() const override { return retries_; }

  Result<Bytes> Fetch(const std::string& url) override {
    if (!handle_) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
    auto allowed = options_.policy.Check(url);
    if (!allowed) return Fail(allowed.error());
    const std::string& target = *allowed;
    const bool is_file = target.rfind("file://", 0) == 0;
    for (int attempt = 1;; ++attempt) {
      auto result = FetchFollowing(target, is_file);
      if (result || !result.error().IsTransient() || attempt >= options_.max_attempts) {
        if (!result && result.error().IsTransient()) {
          return Fail(result.error().WithContext(fmt::format("after {} attempts", attempt)));
        }
        return result;
      }
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      ++retries_;
      sleeper_(BackoffDelayMs(attempt, options_.backoff_initial_ms, options_.backoff_max_ms, unit(rng_)));
    }
  }

 private:
  uint64_t retries_ = 0;
  /// Follows redirects itself, each checked against the policy before it is requested (libcurl
  /// following them would reach a host the policy refuses before anyone could look).
  Result<Bytes> FetchFollowing(const std::string& first, bool is_file) {
    std::string url = first;
    for (int hop = 0;; ++hop) {
      std::string location;
      auto result = FetchOnce(url, is_file, &location);
      if (!result || location.empty()) return result;
      if (hop >= kMaxRedirects) {
        return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: more than {} redirects", RedactUrl(first), hop));
      }
      auto next = options_.policy.Check(location);
      if (!next) return Fail(next.error().WithContext(fmt::format("redirect from {}", RedactUrl(url))));
      if (next->rfind("http://", 0) != 0 && next->rfind("https://", 0) != 0) {
        return Fail(ErrorCode::kForbiddenUrl, fmt::format("{} redirects to a non-web URL", RedactUrl(url)));
      }
      url = *next;
    }
  }

  static constexpr int kMaxRedirects = 5;

  /// One request. A 3xx with a Location sets `location` (and returns empty bytes).
  Result<Bytes> FetchOnce(const std::string& url, bool is_file, std::string* location) {
    Body body;
    body.max_bytes = options_.max_bytes;
    body.handle = handle_;
    CURL* h = handle_;
    curl_easy_reset(h);  // Keeps the connection cache: connections are reused across calls.
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // FetchFollowing checks each hop first.
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, is_file ? "file" : "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_timeout_s);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);  // Fewer recv calls and callbacks per file.
    curl_easy_setopt(h, CURLOPT_USERAGENT, "eden-etl/0.1");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate if the server offers it.
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      return Fail(ErrorCode::kTooLarge, fmt::format("{} is larger than {} bytes", RedactUrl(url), options_.max_bytes));
    }
    if (rc != CURLE_OK) {
      const std::string what = curl_easy_strerror(rc);
      switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
          return Fail(ErrorCode::kTimeout, fmt::format("{}: {}", RedactUrl(url), what));
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
          return Fail(ErrorCode::kUnavailable, fmt::format("{}: {}", RedactUrl(url), what));
        case CURLE_FILE_COULDNT_READ_FILE:
          return Fail(ErrorCode::kNotFound, fmt::format("{}: {}", RedactUrl(url), what));
        default:
          return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: {}", RedactUrl(url), what));
      }
    }
    if (!is_file) {
      if (status >= 300 && status <= 399) {
        char* next = nullptr;
        if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next != nullptr) {
          *location = next;
          return Bytes{};
        }
      }
      if (status == 404 || status == 410)
        return Fail(ErrorCode::kNotFound, fmt::format("{}: HTTP {}", RedactUrl(url), status));
      if (IsRetryableHttpStatus(status))
        return Fail(ErrorCode::kUnavailable, fmt::format("{}: HTTP {}", RedactUrl(url), status));
      if (status < 200 || status > 299)
        return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: HTTP {}", RedactUrl(url), status));
    }
    return std::move(body.bytes);
  }

  FetchOptions options_;
  Sleeper sleeper_;
  CURL* handle_;
  std::mt19937_64 rng_;
};

}  // namespace

void InitialiseCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::unique_ptr<Fetcher> MakeCurlFetcher(const FetchOptions& options, Sleeper sleeper) {
  InitialiseCurlOnce();
  return std::make_unique<CurlFetcher>(options, std::move(sleeper));
}

}  // namespace eden::fetch
