#include "gcs/json_api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/status.h"

namespace eden::gcs {
namespace {
using json = nlohmann::json;

Result<ObjectMetadata> FromJson(const json& j) {
  if (!j.is_object() || !j.contains("name")) {
    return Fail(ErrorCode::kUnavailable, "GCS answered with something that is not an object resource");
  }
  auto text = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  ObjectMetadata m;
  m.bucket = text("bucket");
  m.name = text("name");
  m.content_type = text("contentType");
  m.crc32c = text("crc32c");
  m.md5 = text("md5Hash");
  try {
    m.size = std::stoull(text("size").empty() ? "0" : text("size"));
    m.generation = std::stoll(text("generation").empty() ? "0" : text("generation"));
  } catch (const std::exception&) {
    return Fail(ErrorCode::kUnavailable, "GCS object resource with a non-numeric size or generation");
  }
  return m;
}

}  // namespace

Result<ObjectMetadata> ParseObjectMetadata(std::string_view json_text) {
  return FromJson(json::parse(json_text, nullptr, false));
}

Result<ListPage> ParseListPage(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) return Fail(ErrorCode::kUnavailable, "GCS listing is not JSON");
  ListPage page;
  if (j.contains("items") && j["items"].is_array()) {
    for (const auto& item : j["items"]) {
      auto meta = FromJson(item);
      if (!meta) return Fail(meta.error());
      page.items.push_back(std::move(*meta));
    }
  }
  if (j.contains("nextPageToken") && j["nextPageToken"].is_string()) page.next_page_token = j["nextPageToken"];
  return page;
}

Result<uint64_t> CommittedBytes(const std::string& range_header) {
  if (range_header.empty()) return uint64_t{0};
  // "bytes=0-N"
  const auto dash = range_header.find('-');
  if (range_header.rfind("bytes=0-", 0) != 0 || dash == std::string::npos) {
    return Fail(ErrorCode::kUnavailable, fmt::format("unexpected Range header in a 308: {}", range_header));
  }
  const std::string last = range_header.substr(dash + 1);
  // Digits only (stoull would take "-5" and wrap it), and room for the + 1.
  const bool digits = !last.empty() && last.size() <= 19 && last.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return Fail(ErrorCode::kUnavailable, fmt::format("unexpected Range header in a 308: {}", range_header));
  try {
    return std::stoull(last) + 1;
  } catch (const std::exception&) {
    return Fail(ErrorCode::kUnavailable, fmt::format("unexpected Range header in a 308: {}", range_header));
  }
}

Error ErrorFromResponse(const http::HttpResponse& response, const std::string& what) {
  std::string message;
  json j = json::parse(response.Text(), nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    message = j["error"]["message"].get<std::string>();
  } else {
    message = std::string(response.Text().substr(0, 200));
  }
  Error e = http::ErrorForStatus(response.status, what, message);
  if (e.code() == ErrorCode::kUnauthenticated) {
    return Error(e.code(), e.message() + " (the credentials were refused; check GCS_CREDENTIALS_PATH)");
  }
  if (e.code() == ErrorCode::kPermissionDenied) {
    return Error(e.code(), e.message() + " (the credentials lack access to this bucket)");
  }
  return e;
}

}  // namespace eden::gcs
