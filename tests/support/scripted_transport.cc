#include "support/scripted_transport.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

namespace eden::testing {

http::HttpResponse Response(long status, std::vector<std::string> headers, const std::string& body) {
  http::HttpResponse r;
  r.status = status;
  for (const std::string& line : headers) {
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (name == "location" && status >= 300 && status <= 399) r.redirect_url = value;
    r.headers[name] = value;
  }
  AppendTo(r.body, {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  return r;
}

std::string HeaderValue(const std::vector<std::string>& headers, const std::string& name) {
  for (const std::string& line : headers) {
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  }
  return {};
}

std::string ScriptedTransport::Sent::Header(const std::string& name) const { return HeaderValue(headers, name); }

ScriptedTransport& ScriptedTransport::Reply(long status, std::vector<std::string> headers, const std::string& body) {
  std::lock_guard lock(mu_);
  script_.emplace_back(Response(status, std::move(headers), body));
  return *this;
}

ScriptedTransport& ScriptedTransport::Error(ErrorCode code, const std::string& message) {
  std::lock_guard lock(mu_);
  script_.emplace_back(Fail(code, message));
  return *this;
}

Result<http::HttpResponse> ScriptedTransport::Send(const http::HttpRequest& request) {
  std::lock_guard lock(mu_);
  sent_.push_back({request.method, request.url,
                   std::string(reinterpret_cast<const char*>(request.body.data()), request.body.size()),
                   request.headers, request.file, request.max_response_bytes});
  if (script_.empty()) return Fail(ErrorCode::kInternal, "script ran out at " + request.method + " " + request.url);
  auto next = std::move(script_.front());
  script_.pop_front();
  return next;
}

std::vector<ScriptedTransport::Sent> ScriptedTransport::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

size_t ScriptedTransport::pending() const {
  std::lock_guard lock(mu_);
  return script_.size();
}

}  // namespace eden::testing
