#include "gcs/client.h"

#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fetch/fetcher.h"

namespace eden::gcs {
namespace {

using json = nlohmann::json;

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ObjectPath(const std::string& bucket, const std::string& name) {
  return "/storage/v1/b/" + UrlEncode(bucket) + "/o/" + UrlEncode(name);
}

/// The JSON resource sent with an upload: the server checks both hashes against the bytes.
std::string UploadResource(const std::string& name, const std::string& content_type, const ObjectHashes& hashes) {
  return json{{"name", name}, {"contentType", content_type}, {"crc32c", hashes.crc32c}, {"md5Hash", hashes.md5}}.dump();
}

/// The server must echo the hashes we computed; anything else means it stored other bytes.
Result<ObjectMetadata> CheckStored(Result<ObjectMetadata> meta, const ObjectHashes& hashes, uint64_t size,
                                   const std::string& name) {
  if (!meta) return meta;
  if (meta->crc32c != hashes.crc32c || (!meta->md5.empty() && meta->md5 != hashes.md5) || meta->size != size) {
    return Fail(ErrorCode::kIo, fmt::format("GCS stored {} with size {} crc32c {} md5 {}, expected {} {} {}", name,
                                            meta->size, meta->crc32c, meta->md5, size, hashes.crc32c, hashes.md5));
  }
  return meta;
}

}  // namespace

Result<ObjectMetadata> ParseObjectMetadata(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, false);
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

Result<GcsClient::ListPage> ParseListPage(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) return Fail(ErrorCode::kUnavailable, "GCS listing is not JSON");
  GcsClient::ListPage page;
  if (j.contains("items") && j["items"].is_array()) {
    for (const auto& item : j["items"]) {
      // Parsed JSON is valid UTF-8, so dump() cannot throw here.
      auto meta = ParseObjectMetadata(item.dump());
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

Error ErrorFromResponse(const HttpResponse& response, const std::string& what) {
  std::string message;
  json j = json::parse(response.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    message = j["error"]["message"].get<std::string>();
  } else {
    message = response.body.substr(0, 200);
  }
  const long s = response.status;
  const std::string text = fmt::format("{}: HTTP {}{}", what, s, message.empty() ? "" : ": " + message);
  if (s == 401) {
    return Error(ErrorCode::kUnauthenticated, text + " (the credentials were refused; check GCS_CREDENTIALS_PATH)");
  }
  if (s == 403) return Error(ErrorCode::kPermissionDenied, text + " (the credentials lack access to this bucket)");
  if (s == 404 || s == 410) return Error(ErrorCode::kNotFound, text);
  if (s == 412) return Error(ErrorCode::kFailedPrecondition, text);
  if (fetch::IsRetryableHttpStatus(s)) return Error(ErrorCode::kUnavailable, text);
  return Error(ErrorCode::kInvalidArgument, text);
}

GcsClient::GcsClient(ClientOptions options, std::shared_ptr<Credentials> credentials, Sleeper sleeper)
    : options_(std::move(options)),
      credentials_(std::move(credentials)),
      sleeper_(std::move(sleeper)),
      http_(std::make_shared<HttpClient>(options_.http)) {
  if (!sleeper_) sleeper_ = [](long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
  if (options_.chunk_size < (size_t{256} << 10)) options_.chunk_size = size_t{256} << 10;
  options_.chunk_size -= options_.chunk_size % (size_t{256} << 10);
}

void GcsClient::Backoff(int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  sleeper_(fetch::BackoffDelayMs(attempt, options_.backoff_initial_ms, options_.backoff_max_ms, unit(rng)));
}

/// One attempt: adds the Authorization header, sends, turns a non-2xx (other than 308) into an error.
Result<HttpResponse> GcsClient::Once(HttpRequest request) {
  auto auth = credentials_->Authorization();
  if (!auth) return Fail(auth.error());
  if (!auth->empty()) request.headers.push_back("Authorization: " + *auth);
  ++stats_.requests;
  stats_.bytes_sent += request.body.size();
  auto response = http_->Send(request);
  if (!response) return response;
  if ((response->status >= 200 && response->status < 300) || response->status == 308) return response;
  return Fail(ErrorFromResponse(*response, request.method + " " + fetch::RedactUrl(request.url)));
}

Result<HttpResponse> GcsClient::WithRetries(const std::function<HttpRequest()>& make, const std::string& what) {
  bool reauthenticated = false;
  for (int attempt = 1;; ++attempt) {
    auto r = Once(make());
    if (r) return r;
    if (r.error().code() == ErrorCode::kUnauthenticated && !reauthenticated) {
      credentials_->Invalidate();  // An expired or revoked token: fetch a new one, once.
      reauthenticated = true;
      --attempt;
      continue;
    }
    if (!r.error().IsTransient() || attempt >= options_.max_attempts) {
      if (r.error().IsTransient())
        return Fail(r.error().WithContext(fmt::format("{} (after {} attempts)", what, attempt)));
      return Fail(r.error().WithContext(what));
    }
    ++stats_.retries;
    Backoff(attempt);
  }
}

Status GcsClient::GetBucket(const std::string& bucket) {
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.url = options_.endpoint + "/storage/v1/b/" + UrlEncode(bucket) + "?fields=name";
        return q;
      },
      "bucket gs://" + bucket);
  if (!r) return Fail(r.error());
  return {};
}

Status GcsClient::DeleteObject(const std::string& bucket, const std::string& name) {
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.method = "DELETE";
        q.url = options_.endpoint + ObjectPath(bucket, name);
        return q;
      },
      "deleting gs://" + bucket + "/" + name);
  if (!r && r.error().code() != ErrorCode::kNotFound) return Fail(r.error());
  return {};
}

Result<std::optional<ObjectMetadata>> GcsClient::GetObjectMetadata(const std::string& bucket, const std::string& name) {
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.url = options_.endpoint + ObjectPath(bucket, name);
        return q;
      },
      "metadata of gs://" + bucket + "/" + name);
  if (!r) {
    if (r.error().code() == ErrorCode::kNotFound) return std::optional<ObjectMetadata>();
    return Fail(r.error());
  }
  auto meta = ParseObjectMetadata(r->body);
  if (!meta) return Fail(meta.error());
  return std::optional<ObjectMetadata>(std::move(*meta));
}

Result<std::vector<uint8_t>> GcsClient::ReadObject(const std::string& bucket, const std::string& name) {
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.url = options_.endpoint + "/download" + ObjectPath(bucket, name) + "?alt=media";
        return q;
      },
      "download of gs://" + bucket + "/" + name);
  if (!r) return Fail(r.error());
  return std::vector<uint8_t>(r->body.begin(), r->body.end());
}

Result<GcsClient::ListPage> GcsClient::ListObjects(const std::string& bucket, const std::string& prefix,
                                                   const std::string& page_token) {
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.url = options_.endpoint + "/storage/v1/b/" + UrlEncode(bucket) +
                "/o?maxResults=1000&prefix=" + UrlEncode(prefix) +
                (page_token.empty() ? "" : "&pageToken=" + UrlEncode(page_token));
        return q;
      },
      "listing gs://" + bucket + "/" + prefix);
  if (!r) return Fail(r.error());
  return ParseListPage(r->body);
}

Result<ObjectMetadata> GcsClient::InsertObject(const std::string& bucket, const std::string& name,
                                               std::span<const uint8_t> bytes, const std::string& content_type,
                                               const ObjectHashes& hashes, int64_t if_generation_match) {
  if (bytes.size() >= options_.resumable_threshold) {
    auto read = [bytes](uint64_t offset, size_t n) -> Result<std::span<const uint8_t>> {
      return bytes.subspan(offset, n);
    };
    return CheckStored(Resumable(bucket, name, bytes.size(), read, content_type, hashes, if_generation_match), hashes,
                       bytes.size(), name);
  }
  return CheckStored(Multipart(bucket, name, bytes, content_type, hashes, if_generation_match), hashes, bytes.size(),
                     name);
}

Result<ObjectMetadata> GcsClient::InsertObjectFromFile(const std::string& bucket, const std::string& name,
                                                       const std::filesystem::path& path, uint64_t size,
                                                       const std::string& content_type, const ObjectHashes& hashes,
                                                       int64_t if_generation_match) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  std::vector<uint8_t> chunk;
  auto read = [&](uint64_t offset, size_t n) -> Result<std::span<const uint8_t>> {
    chunk.resize(n);
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(in.gcount()) != n) {
      return Fail(ErrorCode::kIo, fmt::format("{} changed while uploading", path.string()));
    }
    return std::span<const uint8_t>(chunk);
  };
  if (size < options_.resumable_threshold) {  // Small enough for one request: read it whole.
    auto whole = read(0, size);
    if (!whole) return Fail(whole.error());
    return InsertObject(bucket, name, *whole, content_type, hashes, if_generation_match);
  }
  return CheckStored(Resumable(bucket, name, size, read, content_type, hashes, if_generation_match), hashes, size,
                     name);
}

Result<ObjectMetadata> GcsClient::Multipart(const std::string& bucket, const std::string& name,
                                            std::span<const uint8_t> bytes, const std::string& content_type,
                                            const ObjectHashes& hashes, int64_t generation) {
  static constexpr const char* kBoundary = "eden_etl_boundary_7c1f2b9e";
  std::string body;
  body.reserve(bytes.size() + 512);
  body +=
      fmt::format("--{}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{}\r\nContent-Type: {}\r\n\r\n",
                  kBoundary, UploadResource(name, content_type, hashes), kBoundary, content_type);
  body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  body += fmt::format("\r\n--{}--\r\n", kBoundary);
  auto r = WithRetries(
      [&] {
        HttpRequest q;
        q.method = "POST";
        q.url = fmt::format("{}/upload/storage/v1/b/{}/o?uploadType=multipart&ifGenerationMatch={}", options_.endpoint,
                            UrlEncode(bucket), generation);
        q.headers = {fmt::format("Content-Type: multipart/related; boundary={}", kBoundary)};
        q.body = AsBytes(body);
        return q;
      },
      "upload of gs://" + bucket + "/" + name);
  if (!r) return Fail(r.error());
  return ParseObjectMetadata(r->body);
}

Result<ObjectMetadata> GcsClient::Resumable(const std::string& bucket, const std::string& name, uint64_t total,
                                            const ChunkReader& read, const std::string& content_type,
                                            const ObjectHashes& hashes, int64_t generation) {
  const std::string what = "resumable upload of gs://" + bucket + "/" + name;
  const std::string resource = UploadResource(name, content_type, hashes);
  int failures = 0;  // Consecutive failures without progress.
  for (;;) {
    // 1. A session (retried as a whole: starting one has no side effect).
    auto start = WithRetries(
        [&] {
          HttpRequest q;
          q.method = "POST";
          q.url = fmt::format("{}/upload/storage/v1/b/{}/o?uploadType=resumable&ifGenerationMatch={}",
                              options_.endpoint, UrlEncode(bucket), generation);
          q.headers = {"Content-Type: application/json; charset=UTF-8", "X-Upload-Content-Type: " + content_type,
                       fmt::format("X-Upload-Content-Length: {}", total)};
          q.body = AsBytes(resource);
          return q;
        },
        what + " (start)");
    if (!start) return Fail(start.error());
    const std::string session = start->Header("location");
    if (session.empty()) return Fail(ErrorCode::kUnavailable, what + ": the session answer has no Location");

    // 2. Chunks from the committed offset; after a failure, ask the server where it is.
    uint64_t committed = 0;
    bool ask_status = false;
    for (;;) {
      HttpRequest q;
      q.method = "PUT";
      q.url = session;
      if (ask_status) {
        q.headers = {fmt::format("Content-Range: bytes */{}", total)};
      } else {
        const uint64_t n = std::min<uint64_t>(options_.chunk_size, total - committed);
        auto body = read(committed, n);
        if (!body) return Fail(body.error().WithContext(what));
        q.body = *body;
        q.headers = {total == 0 ? std::string("Content-Range: bytes */0")
                                : fmt::format("Content-Range: bytes {}-{}/{}", committed, committed + n - 1, total)};
      }
      auto r = Once(std::move(q));
      if (r && (r->status == 200 || r->status == 201)) return ParseObjectMetadata(r->body);
      if (r) {  // 308: the server says how much it has.
        auto c = CommittedBytes(r->Header("range"));
        if (!c) return Fail(c.error().WithContext(what));
        if (ask_status && *c < total) ++stats_.resumed;
        if (*c > committed) {
          failures = 0;
        } else if (!ask_status) {  // A chunk the server kept none of.
          if (++failures >= options_.max_attempts) {
            return Fail(ErrorCode::kUnavailable, fmt::format("{}: the server keeps no bytes past {}", what, *c));
          }
          Backoff(failures);
        }
        committed = *c;
        ask_status = false;
        continue;
      }
      const Error& e = r.error();
      if (e.code() == ErrorCode::kUnauthenticated && failures == 0) {
        credentials_->Invalidate();
        ++failures;
        ask_status = true;
        continue;
      }
      if (e.code() == ErrorCode::kNotFound) break;  // The session expired: start a new one.
      if (!e.IsTransient()) return Fail(e.WithContext(what));
      if (++failures >= options_.max_attempts) {
        return Fail(e.WithContext(fmt::format("{} (after {} attempts without progress)", what, failures)));
      }
      ++stats_.retries;
      Backoff(failures);
      ask_status = true;
    }
    if (++failures >= options_.max_attempts)
      return Fail(ErrorCode::kUnavailable, what + ": upload sessions keep expiring");
  }
}

}  // namespace eden::gcs
