#include "sentry/envelope.h"

#include <cctype>
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace eden::sentry {
namespace {

using json = nlohmann::ordered_json;

std::string Iso(double t) {
  const auto secs = static_cast<std::time_t>(std::floor(t));
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, static_cast<int>((t - std::floor(t)) * 1000));
}

}  // namespace

std::string Dsn::EnvelopeUrl() const {
  return fmt::format("{}://{}{}/api/{}/envelope/", scheme, host, path, project_id);
}

std::string Dsn::AuthHeader(std::string_view client) const {
  return fmt::format("Sentry sentry_version=7, sentry_client={}, sentry_key={}", client, public_key);
}

Result<Dsn> ParseDsn(std::string_view dsn) {
  Dsn d;
  const auto scheme_end = dsn.find("://");
  if (scheme_end == std::string_view::npos) return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN is not a URL");
  d.scheme = std::string(dsn.substr(0, scheme_end));
  if (d.scheme != "https" && d.scheme != "http") {
    return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN must start with https:// (or http://)");
  }
  std::string_view rest = dsn.substr(scheme_end + 3);
  const auto at = rest.find('@');
  if (at == std::string_view::npos || at == 0) {
    return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN has no public key (https://KEY@host/PROJECT)");
  }
  std::string_view key = rest.substr(0, at);
  d.public_key = std::string(key.substr(0, key.find(':')));
  rest = rest.substr(at + 1);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN has no host and project (https://KEY@host/PROJECT)");
  }
  d.host = std::string(rest.substr(0, slash));
  std::string_view path = rest.substr(slash);
  if (const auto q = path.find_first_of("?#"); q != std::string_view::npos) path = path.substr(0, q);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const auto last = path.rfind('/');
  d.project_id = std::string(path.substr(last + 1));
  d.path = std::string(path.substr(0, last));
  if (d.project_id.empty()) return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN has no project id");
  for (char c : d.project_id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return Fail(ErrorCode::kInvalidArgument, "SENTRY_DSN's project id is not a plain number or name");
    }
  }
  return d;
}

std::string BuildEnvelope(const Event& e, double sent_at) {
  json event;
  event["event_id"] = e.event_id;
  event["timestamp"] = e.timestamp;
  event["platform"] = "native";
  event["level"] = e.level;
  event["logger"] = e.logger;
  event["message"] = {{"formatted", e.message}};
  if (!e.release.empty()) event["release"] = e.release;
  if (!e.server_name.empty()) event["server_name"] = e.server_name;
  if (!e.environment.empty()) event["environment"] = e.environment;
  event["tags"] = json::object();
  for (const auto& [k, v] : e.tags) event["tags"][k] = v;
  if (!e.fingerprint.empty()) event["fingerprint"] = {e.fingerprint};
  const std::string payload = event.dump();
  json header = {{"event_id", e.event_id}, {"sent_at", Iso(sent_at)}};
  json item = {{"type", "event"}, {"length", payload.size()}, {"content_type", "application/json"}};
  return header.dump() + "\n" + item.dump() + "\n" + payload + "\n";
}

std::string Scrub(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    // A token: a run of characters that are not blanks or quotes/brackets.
    size_t end = i;
    auto delimiter = [](char c) {
      return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '(' || c == ')' || c == '[' ||
             c == ']' || c == '<' || c == '>' || c == ',' || c == ';';
    };
    if (delimiter(text[i])) {
      out += text[i++];
      continue;
    }
    while (end < text.size() && !delimiter(text[end])) ++end;
    std::string_view token = text.substr(i, end - i);
    i = end;
    if (token.find("://") != std::string_view::npos) {
      out += "<url>";
      continue;
    }
    const auto at = token.find('@');
    if (at != std::string_view::npos && at > 0 && token.find('.', at) != std::string_view::npos) {
      out += "<email>";
      continue;
    }
    const bool protocol = token.substr(0, 5) == "HTTP/";
    if (!protocol && (token.find('/') != std::string_view::npos || token.find('\\') != std::string_view::npos)) {
      out += "<path>";
      continue;
    }
    // Digit runs: a UID (digits and dots), an id, a date. Keep short numbers (counts, codes).
    std::string word;
    size_t k = 0;
    while (k < token.size()) {
      if (std::isdigit(static_cast<unsigned char>(token[k]))) {
        size_t j = k, digits = 0, dots = 0;
        while (j < token.size() && (std::isdigit(static_cast<unsigned char>(token[j])) || token[j] == '.' ||
                                    token[j] == '-' || token[j] == ':')) {
          digits += std::isdigit(static_cast<unsigned char>(token[j])) ? 1 : 0;
          dots += token[j] == '.' ? 1 : 0;
          ++j;
        }
        // Digits glued to a word ("PAT-001", "MRN12") read as an identifier.
        const bool glued =
            !protocol && k > 0 &&
            (std::isalpha(static_cast<unsigned char>(token[k - 1])) || token[k - 1] == '-' || token[k - 1] == '_');
        if (digits >= 5 || (glued && digits >= 2)) {
          word += dots >= 2 ? "<uid>" : glued ? "<id>" : "<number>";
        } else {
          word += token.substr(k, j - k);
        }
        k = j;
      } else {
        word += token[k++];
      }
    }
    out += word;
  }
  return out;
}

bool RateLimiter::Allow(double now) {
  if (last_ >= 0 && now > last_) tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_);
  last_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool SampleFailure(unsigned long long nth) { return nth > 0 && (nth & (nth - 1)) == 0; }

}  // namespace eden::sentry
