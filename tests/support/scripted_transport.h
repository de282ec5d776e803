#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "http/transport.h"

namespace eden::testing {

/// An http::Transport that answers from a script, in order, and records every request it was
/// sent. An empty script answers kInternal ("script ran out"), so a test sees an unexpected
/// extra request. Thread-safe.
class ScriptedTransport final : public http::Transport {
 public:
  struct Sent {
    std::string method, url, body;
    std::vector<std::string> headers;
    bool file = false;
    uint64_t max_response_bytes = 0;
    /// The value of header `name` (case-insensitive), or "" if it was not sent.
    std::string Header(const std::string& name) const;
  };

  /// Queues an answer: a status, headers ("Name: value"), a body.
  ScriptedTransport& Reply(long status, std::vector<std::string> headers = {}, const std::string& body = {});
  /// Queues a transport failure (what libcurl would report: kUnavailable, kTimeout, ...).
  ScriptedTransport& Error(ErrorCode code, const std::string& message = "scripted failure");

  Result<http::HttpResponse> Send(const http::HttpRequest& request) override;

  std::vector<Sent> sent() const;
  size_t pending() const;

 private:
  mutable std::mutex mu_;
  std::deque<Result<http::HttpResponse>> script_;
  std::vector<Sent> sent_;
};

/// The value of header `name` (case-insensitive) among "Name: value" lines, or "" if absent.
std::string HeaderValue(const std::vector<std::string>& headers, const std::string& name);

/// A response as a transport would return it (for tests of the pure pieces).
http::HttpResponse Response(long status, std::vector<std::string> headers = {}, const std::string& body = {});

}  // namespace eden::testing
