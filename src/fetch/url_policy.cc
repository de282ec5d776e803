#include "fetch/url_policy.h"

#include <limits.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "http/url.h"

namespace eden::fetch {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

/// The real path of `path` (symbolic links and `..` resolved), or nullopt if it does not exist.
std::optional<std::string> RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return std::nullopt;
  return std::string(buffer);
}

/// The decoded local path of a file:// URL (file://localhost/x and file:///x alike).
std::optional<std::string> FilePath(const std::string& url) {
  auto u = http::ParseUrl(url, false, true);
  if (!u || Lower(u->scheme) != "file" || u->path.empty()) return std::nullopt;
  return u->path;
}

/// scheme://host[:port]/path, lower-case scheme and host, no user info, query or fragment.
std::optional<std::string> NormaliseWeb(const std::string& url) {
  auto u = http::ParseUrl(url);
  if (!u) return std::nullopt;
  const std::string s = Lower(u->scheme);
  if (s != "http" && s != "https") return std::nullopt;
  if (u->host.empty()) return std::nullopt;
  return fmt::format("{}://{}{}{}", s, Lower(u->host), u->port.empty() ? "" : ":" + u->port, u->path);
}

}  // namespace

std::vector<std::string> SplitUrlList(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(begin, end - begin);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    begin = end + 1;
  }
  return out;
}

Result<UrlPolicy> UrlPolicy::Make(const std::vector<std::string>& allowed) {
  UrlPolicy policy;
  for (const std::string& prefix : allowed) {
    const std::string lower = Lower(prefix.substr(0, 8));
    if (lower.rfind("file://", 0) == 0) {
      auto path = FilePath(prefix);
      auto real = path ? RealPath(*path) : std::nullopt;
      if (!real) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("--allow-url {}: not an existing folder", http::RedactUrl(prefix)));
      }
      policy.folders_.push_back(*real == "/" ? "/" : *real + "/");
      continue;
    }
    auto web = NormaliseWeb(prefix);
    if (!web) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("--allow-url {}: not an http://, https:// or file:// URL", http::RedactUrl(prefix)));
    }
    policy.web_.push_back(*web);
  }
  return policy;
}

Result<std::string> UrlPolicy::Check(const std::string& url) const {
  const std::string head = Lower(url.substr(0, 8));
  if (head.rfind("file://", 0) == 0) {
    if (folders_.empty()) {
      return Fail(ErrorCode::kForbiddenUrl,
                  "file:// URLs are not allowed (allow a folder with --allow-url file:///that/folder/)");
    }
    auto path = FilePath(url);
    if (!path) return Fail(ErrorCode::kForbiddenUrl, "not a usable file:// URL");
    auto real = RealPath(*path);
    if (!real) {
      // Missing: "not found" only inside an allowed folder, so a row cannot probe the disk.
      const std::string lexical = std::filesystem::path(*path).lexically_normal().string();
      for (const std::string& folder : folders_) {
        if (lexical.rfind(folder, 0) == 0) return Fail(ErrorCode::kNotFound, "no such file");
      }
      return Fail(ErrorCode::kForbiddenUrl, "file outside the folders --allow-url allows");
    }
    for (const std::string& folder : folders_) {
      if (real->rfind(folder, 0) == 0) {
        // Fetch what was checked: the resolved path, escaped back into a URL.
        if (auto resolved = http::FileUrl(*real)) return *resolved;
        return Fail(ErrorCode::kForbiddenUrl, "not a usable file:// URL");
      }
    }
    return Fail(ErrorCode::kForbiddenUrl, "file outside the folders --allow-url allows");
  }
  if (head.rfind("http://", 0) != 0 && head.rfind("https://", 0) != 0) {
    return Fail(ErrorCode::kForbiddenUrl, fmt::format("unsupported URL scheme: {}", http::RedactUrl(url)));
  }
  if (web_.empty()) return url;
  auto normal = NormaliseWeb(url);
  if (!normal) return Fail(ErrorCode::kForbiddenUrl, fmt::format("not a usable URL: {}", http::RedactUrl(url)));
  for (const std::string& prefix : web_) {
    if (normal->rfind(prefix, 0) == 0) return url;
  }
  return Fail(ErrorCode::kForbiddenUrl, fmt::format("{} is outside the URLs --allow-url allows", http::RedactUrl(url)));
}

std::string UrlPolicy::Describe() const {
  std::string out = web_.empty() ? "http://, https://" : "";
  for (const auto& w : web_) out += (out.empty() ? "" : ", ") + w;
  for (const auto& f : folders_) out += ", file://" + f;
  return out;
}

}  // namespace eden::fetch
