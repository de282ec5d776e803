#include "fetch/http_fetcher.h"

#include <fmt/format.h>

#include "http/curl_transport.h"
#include "http/status.h"
#include "http/url.h"

namespace eden::fetch {
namespace {

constexpr int kMaxRedirects = 5;

class HttpFetcher final : public Fetcher {
 public:
  HttpFetcher(FetchOptions options, std::shared_ptr<http::Transport> transport, http::Sleeper sleeper)
      : options_(std::move(options)),
        transport_(std::move(transport)),
        sleeper_(sleeper ? std::move(sleeper) : http::RealSleeper()),
        retry_(options_.max_attempts),
        backoff_(options_.backoff_initial_ms, options_.backoff_max_ms) {}

  uint64_t retries() const override { return retries_; }

  Result<Bytes> Fetch(const std::string& url) override {
    auto allowed = options_.policy.Check(url);
    if (!allowed) return Fail(allowed.error());
    const std::string& target = *allowed;
    const bool is_file = target.rfind("file://", 0) == 0;
    int attempts = 0;
    http::RetryHooks hooks;
    hooks.on_retry = [this](const Error&, int) { ++retries_; };
    auto result = http::RetryLoop<Bytes>(
        retry_, backoff_, sleeper_, [&] { return FetchFollowing(target, is_file); }, &attempts, hooks);
    if (!result && result.error().IsTransient()) {
      return Fail(result.error().WithContext(fmt::format("after {} attempts", attempts)));
    }
    return result;
  }

 private:
  /// Follows redirects itself, each checked against the policy before it is requested (libcurl
  /// following them would reach a host the policy refuses before anyone could look).
  Result<Bytes> FetchFollowing(const std::string& first, bool is_file) {
    std::string url = first;
    for (int hop = 0;; ++hop) {
      http::HttpRequest request;
      request.url = url;
      request.file = is_file;
      request.max_response_bytes = options_.max_bytes;
      request.accept_encoding = true;
      auto response = transport_->Send(request);
      if (!response) return Fail(response.error());
      if (is_file) return std::move(response->body);
      const long status = response->status;
      if (status >= 200 && status <= 299) return std::move(response->body);
      if (status >= 300 && status <= 399 && !response->redirect_url.empty()) {
        if (hop >= kMaxRedirects) {
          return Fail(ErrorCode::kInvalidArgument,
                      fmt::format("{}: more than {} redirects", http::RedactUrl(first), hop));
        }
        auto next = options_.policy.Check(response->redirect_url);
        if (!next) return Fail(next.error().WithContext(fmt::format("redirect from {}", http::RedactUrl(url))));
        if (next->rfind("http://", 0) != 0 && next->rfind("https://", 0) != 0) {
          return Fail(ErrorCode::kForbiddenUrl, fmt::format("{} redirects to a non-web URL", http::RedactUrl(url)));
        }
        url = *next;
        continue;
      }
      return Fail(http::ErrorForStatus(status, http::RedactUrl(url)));
    }
  }

  FetchOptions options_;
  std::shared_ptr<http::Transport> transport_;
  http::Sleeper sleeper_;
  http::RetryPolicy retry_;
  http::BackoffPolicy backoff_;
  uint64_t retries_ = 0;
};

}  // namespace

std::unique_ptr<Fetcher> MakeHttpFetcher(const FetchOptions& options, std::shared_ptr<http::Transport> transport,
                                         http::Sleeper sleeper) {
  return std::make_unique<HttpFetcher>(options, std::move(transport), std::move(sleeper));
}

std::unique_ptr<Fetcher> MakeCurlFetcher(const FetchOptions& options, http::Sleeper sleeper) {
  http::TransportOptions t;
  t.connect_timeout_ms = options.connect_timeout_ms;
  t.low_speed_timeout_s = options.low_speed_timeout_s;
  t.total_timeout_ms = options.total_timeout_ms;
  t.ca_file = options.ca_file;
  t.user_agent = "eden-etl/0.1";
  return MakeHttpFetcher(options, http::MakeCurlTransport(std::move(t)), std::move(sleeper));
}

}  // namespace eden::fetch
