#include "http/url.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

#include <fmt/format.h>

namespace eden::http {
namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlString {
  char* p = nullptr;
  ~CurlString() { curl_free(p); }
};

std::optional<std::string> Part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  CurlString s;
  if (curl_url_get(u, part, &s.p, flags) != CURLUE_OK || s.p == nullptr) return std::nullopt;
  return std::string(s.p);
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  // Any scheme (redis:// too): keeps the user name (a Redis ACL user says which account), drops
  // the password, the query and the fragment; an '@' in the path is the path's.
  Url u(curl_url());
  if (u && curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    if (auto user = Part(u.get(), CURLUPART_USER); user && user->empty()) {
      curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);  // "redis://:secret@host": no user to show.
    }
    curl_url_set(u.get(), CURLUPART_QUERY, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
    if (auto text = Part(u.get(), CURLUPART_URL)) return *text;
  }
  // Not a URL libcurl reads: no query, and nothing between "://" and the host's '@'.
  std::string out = url.substr(0, url.find_first_of("?#"));
  const auto scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const auto authority_end = out.find('/', scheme + 3);
  const auto at = out.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at != std::string::npos && at > scheme) out.erase(scheme + 3, at - scheme - 2);
  return out;
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::optional<UrlParts> ParseUrl(const std::string& text, bool any_scheme, bool decode_path) {
  Url u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, text.c_str(), any_scheme ? CURLU_NON_SUPPORT_SCHEME : 0) != CURLUE_OK)
    return std::nullopt;
  UrlParts parts;
  auto scheme = Part(u.get(), CURLUPART_SCHEME);
  if (!scheme) return std::nullopt;
  parts.scheme = *scheme;
  parts.user = Part(u.get(), CURLUPART_USER).value_or("");
  parts.host = Part(u.get(), CURLUPART_HOST).value_or("");
  parts.port = Part(u.get(), CURLUPART_PORT).value_or("");
  auto path = Part(u.get(), CURLUPART_PATH, decode_path ? CURLU_URLDECODE : 0);
  if (!path) return std::nullopt;
  if (path->find('\0') != std::string::npos) return std::nullopt;
  parts.path = path->empty() ? "/" : *path;
  parts.query = Part(u.get(), CURLUPART_QUERY).value_or("");
  return parts;
}

std::optional<std::string> FileUrl(const std::string& path) {
  Url u(curl_url());
  if (u && curl_url_set(u.get(), CURLUPART_SCHEME, "file", 0) == CURLUE_OK &&
      curl_url_set(u.get(), CURLUPART_PATH, path.c_str(), CURLU_URLENCODE) == CURLUE_OK) {
    return Part(u.get(), CURLUPART_URL);
  }
  return std::nullopt;
}

}  // namespace eden::http
