#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eden::http {

/// A URL fit for messages: no query string or fragment (signed URLs and upload session ids
/// carry secrets) and no password (redis://user:secret@host -> redis://user@host); the user
/// name and an '@' in the path are kept. Pure (libcurl's URL API).
std::string RedactUrl(const std::string& url);

/// Percent-encodes everything but RFC 3986 unreserved characters (object names in URL paths
/// and query values: "a/b c" -> "a%2Fb%20c"). Pure.
std::string UrlEncode(std::string_view text);

/// The parts of an absolute URL, as libcurl's URL parser reads them. `port` is empty unless the
/// URL names one; `path` is "/" at least, percent-decoded when asked.
struct UrlParts {
  std::string scheme, user, host, port, path, query;
};

/// nullopt if `text` is not an absolute URL of a scheme libcurl knows (of any scheme with
/// `any_scheme`); a decoded path holding a NUL byte is refused too. Pure.
std::optional<UrlParts> ParseUrl(const std::string& text, bool any_scheme = false, bool decode_path = false);

/// "file://" + `path` percent-encoded where it must be; nullopt if libcurl refuses it. Pure.
std::optional<std::string> FileUrl(const std::string& path);

}  // namespace eden::http
