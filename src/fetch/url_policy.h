#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace eden::fetch {

/// Which URLs eden may download. Rows come from a database that others may write, so a row must
/// not make eden read any file on the machine, or any host, into a dataset.
///
/// - By default `http://` and `https://` URLs are allowed and `file://` ones are refused.
/// - `allowed` prefixes (--allow-url, EDEN_ALLOW_URLS) open or narrow a scheme: a `file://`
///   prefix allows the files under that folder only, after `..` and symbolic links are
///   resolved; an `http://` or `https://` prefix narrows the web to the prefixes given (a
///   host-only prefix matches that host and port exactly, not `host.evil.example`).
/// - Only http, https and file are ever fetched.
/// Refusals are kForbiddenUrl. Pure but for the file system look-ups of `file://` paths.
class UrlPolicy {
 public:
  UrlPolicy() = default;
  /// kInvalidArgument for a prefix that is not an http(s) or file URL, or a file:// prefix
  /// that names no existing folder.
  static Result<UrlPolicy> Make(const std::vector<std::string>& allowed);

  /// The URL to fetch for `url` if it is allowed: http(s) URLs as given; file URLs rewritten to
  /// the resolved path (so what is read is what was checked). kForbiddenUrl otherwise.
  Result<std::string> Check(const std::string& url) const;

  /// The prefixes in force, for messages and `config show`.
  std::string Describe() const;

 private:
  std::vector<std::string> web_;      ///< Normalised http(s) prefixes; empty: any http(s) URL.
  std::vector<std::string> folders_;  ///< Resolved folders, each ending in '/'.
};

/// Splits EDEN_ALLOW_URLS-style text ("a,b, c") into prefixes; empty items are dropped.
std::vector<std::string> SplitUrlList(const std::string& text);

}  // namespace eden::fetch
