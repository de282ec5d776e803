#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace eden::sentry {

/// Sends one envelope: POST `url` with these headers and body; returns the HTTP status and the
/// Retry-After seconds (0 if none). The composition root passes the libcurl client.
struct TransportReply {
  long status = 0;
  double retry_after_s = 0;
};
using Transport = std::function<Result<TransportReply>(const std::string& url, const std::string& auth_header,
                                                       const std::string& body)>;

struct ReporterOptions {
  std::string dsn;
  std::string release;      ///< "eden-etl@<version>"
  std::string server_name;  ///< The host name.
  std::string environment;
  std::string logger = "eden.run";
  double per_minute = 10;   ///< Events per minute after the burst...
  double burst = 20;        ///< ...and at once.
  size_t max_queued = 100;  ///< Events waiting to be sent; beyond, dropped (and counted).
};

/// Run errors and sampled instance failures as Sentry events, sent on a background thread.
/// What goes out: a scrubbed message (sentry::Scrub), the error code and step as tags, the
/// release, host and environment. Never an instance id, a URL, a path, the DSN's key in a log.
/// @par Thread-safety
/// Every member may be called from any thread.
class Reporter {
 public:
  /// kInvalidArgument for a DSN that is not one (the message does not echo it).
  static Result<std::unique_ptr<Reporter>> Create(ReporterOptions options, Transport transport);
  virtual ~Reporter() = default;

  /// A run (or worker) that stopped: always sent if the rate allows.
  virtual void RunError(std::string_view error_code, std::string_view message) = 0;
  /// An instance that failed: sampled per error code (SampleFailure), then rate-limited.
  virtual void InstanceFailure(std::string_view error_code, std::string_view step, std::string_view message) = 0;
  /// Waits up to `timeout_s` for queued events to be sent. Returns how many are still queued.
  virtual size_t Flush(double timeout_s) = 0;

  struct Counts {
    unsigned long long sent = 0, dropped = 0, failed = 0;
  };
  virtual Counts counts() const = 0;
};

}  // namespace eden::sentry
