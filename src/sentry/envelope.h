#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/result.h"

namespace eden::sentry {

/// A DSN, `{scheme}://{public_key}[:{secret}]@{host}[:{port}]{/path}/{project_id}`, taken apart.
struct Dsn {
  std::string scheme, public_key, host, path, project_id;
  /// `{scheme}://{host}{path}/api/{project_id}/envelope/`: where events go (no key in it).
  std::string EnvelopeUrl() const;
  /// The X-Sentry-Auth header's value (carries the public key: never logged).
  std::string AuthHeader(std::string_view client) const;
};
/// kInvalidArgument naming what is wrong, never echoing the DSN (it holds a key). Pure.
Result<Dsn> ParseDsn(std::string_view dsn);

/// What one event says. Everything here is scrubbed by the caller's Scrub (message) or is a
/// fixed vocabulary (tags: command, error_code, step).
struct Event {
  std::string event_id;  ///< 32 lower-case hex digits.
  double timestamp = 0;  ///< Seconds since the epoch.
  std::string level = "error";
  std::string logger;  ///< "eden.run" | "eden.worker"
  std::string message;
  std::string release, server_name, environment;
  std::map<std::string, std::string> tags;
  std::string fingerprint;  ///< Events with the same one are grouped; empty: Sentry's default.
};

/// The envelope body: header line {event_id, sent_at}, item header {type: event, length}, the
/// event JSON (Sentry's envelope format). Pure.
std::string BuildEnvelope(const Event& event, double sent_at);

/// Text with what could identify a patient or a place removed: URLs, e-mail addresses, file
/// paths, DICOM UIDs, digits glued to a word (PAT-001, MRN12) and other digit runs of 5 or more
/// (ids, dates) become <url>, <email>, <path>, <uid>, <id>, <number>. Pure.
std::string Scrub(std::string_view text);

/// Up to `burst` events at once, refilled at `per_minute`; `now` in seconds. Pure (the caller
/// holds the clock). Not thread-safe.
class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst) : rate_(per_minute / 60), burst_(burst), tokens_(burst) {}
  bool Allow(double now);

 private:
  double rate_, burst_, tokens_, last_ = -1;
};

/// The instance failures worth an event: the 1st, 2nd, 4th, 8th... of each error code, so every
/// kind of failure is seen and a flood costs a logarithm. Pure.
bool SampleFailure(unsigned long long nth_of_code);

}  // namespace eden::sentry
