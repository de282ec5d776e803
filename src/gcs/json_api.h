#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/transport.h"

namespace eden::gcs {

/// The object resource fields eden uses.
struct ObjectMetadata {
  std::string bucket, name, content_type;
  uint64_t size = 0;
  int64_t generation = 0;
  std::string crc32c, md5;  ///< base64, as GCS reports them
};

/// One page of an objects.list answer.
struct ListPage {
  std::vector<ObjectMetadata> items;
  std::string next_page_token;  ///< Empty on the last page.
};

/// Parses an object resource (JSON). Pure.
Result<ObjectMetadata> ParseObjectMetadata(std::string_view json_text);

/// Parses one page of an objects.list answer (items and nextPageToken). Pure.
Result<ListPage> ParseListPage(std::string_view json_text);

/// The end of the committed range from a 308's Range header ("bytes=0-262143" -> 262144; no
/// header -> 0). Pure.
Result<uint64_t> CommittedBytes(const std::string& range_header);

/// The error a non-2xx answer means (http::ErrorForStatus: 401 kUnauthenticated, 403
/// kPermissionDenied, 404 kNotFound, 412 kFailedPrecondition, 408/429/5xx kUnavailable, other
/// 4xx kInvalidArgument), with GCS's own error message and, for 401/403, what to check. Pure.
Error ErrorFromResponse(const http::HttpResponse& response, const std::string& what);

}  // namespace eden::gcs
