#include "gcs/client.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gcs/resumable_upload.h"
#include "http/url.h"

namespace eden::gcs {
namespace {

using json = nlohmann::json;
using http::HttpRequest;
using http::HttpResponse;
using http::UrlEncode;

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ObjectPath(const std::string& bucket, const std::string& name) {
  return "/storage/v1/b/" + UrlEncode(bucket) + "/o/" + UrlEncode(name);
}

/// The JSON resource sent with an upload: the server checks the hashes given against the bytes.
std::string UploadResource(const std::string& name, const std::string& content_type, const ObjectHashes& hashes) {
  json resource{{"name", name}, {"contentType", content_type}, {"crc32c", hashes.crc32c}};
  if (!hashes.md5.empty()) resource["md5Hash"] = hashes.md5;
  return resource.dump();
}

/// The server must echo the hashes we computed; anything else means it stored other bytes.
Result<ObjectMetadata> CheckStored(Result<ObjectMetadata> meta, const ObjectHashes& hashes, uint64_t size,
                                   const std::string& name) {
  if (!meta) return meta;
  if (meta->crc32c != hashes.crc32c || (!hashes.md5.empty() && !meta->md5.empty() && meta->md5 != hashes.md5) ||
      meta->size != size) {
    return Fail(ErrorCode::kIo, fmt::format("GCS stored {} with size {} crc32c {} md5 {}, expected {} {} {}", name,
                                            meta->size, meta->crc32c, meta->md5, size, hashes.crc32c, hashes.md5));
  }
  return meta;
}

}  // namespace

GcsClient::GcsClient(ClientOptions options, std::shared_ptr<Credentials> credentials, Sleeper sleeper,
                     std::shared_ptr<http::Transport> transport)
    : options_(std::move(options)),
      credentials_(std::move(credentials)),
      sleeper_(sleeper ? std::move(sleeper) : http::RealSleeper()),
      retry_(options_.max_attempts),
      backoff_(options_.backoff_initial_ms, options_.backoff_max_ms),
      http_(transport ? std::move(transport) : http::MakeCurlTransport(options_.http)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
  if (options_.chunk_size < (size_t{256} << 10)) options_.chunk_size = size_t{256} << 10;
  options_.chunk_size -= options_.chunk_size % (size_t{256} << 10);
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
  return Fail(ErrorFromResponse(*response, request.method + " " + http::RedactUrl(request.url)));
}

Result<HttpResponse> GcsClient::WithRetries(const std::function<HttpRequest()>& make, const std::string& what) {
  int attempts = 0;
  http::RetryHooks hooks;
  hooks.refresh = [this] {
    credentials_->Invalidate();  // An expired or revoked token: fetch a new one, once.
    return true;
  };
  hooks.on_retry = [this](const Error&, int) { ++stats_.retries; };
  auto r = http::RetryLoop<HttpResponse>(
      retry_, backoff_, sleeper_, [&] { return Once(make()); }, &attempts, hooks);
  if (r) return r;
  if (r.error().IsTransient())
    return Fail(r.error().WithContext(fmt::format("{} (after {} attempts)", what, attempts)));
  return Fail(r.error().WithContext(what));
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
  auto meta = ParseObjectMetadata(r->Text());
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
  return ParseListPage(r->Text());
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
  return ParseObjectMetadata(r->Text());
}

Result<ObjectMetadata> GcsClient::Resumable(const std::string& bucket, const std::string& name, uint64_t total,
                                            const ChunkReader& read, const std::string& content_type,
                                            const ObjectHashes& hashes, int64_t generation) {
  const std::string what = "resumable upload of gs://" + bucket + "/" + name;
  const std::string resource = UploadResource(name, content_type, hashes);
  ResumableUpload upload(total, options_.chunk_size, options_.max_attempts, what);
  auto finish = [&] {
    stats_.retries += upload.retries();
    stats_.resumed += upload.resumed();
  };
  for (;;) {
    const ResumableUpload::Step step = upload.Next();
    if (step.refresh_credentials) credentials_->Invalidate();
    if (step.backoff_attempt > 0) sleeper_(backoff_.DelayMs(step.backoff_attempt));
    switch (step.action) {
      case ResumableUpload::Action::kDone:
        finish();
        return *upload.metadata();
      case ResumableUpload::Action::kFailed:
        finish();
        return Fail(*upload.error());
      case ResumableUpload::Action::kStartSession:
        // Retried as a whole: starting a session has no side effect.
        upload.OnSessionStarted(WithRetries(
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
            what + " (start)"));
        break;
      case ResumableUpload::Action::kSendChunk:
      case ResumableUpload::Action::kQueryStatus: {
        HttpRequest q;
        q.method = "PUT";
        q.url = upload.session_url();
        q.headers = {"Content-Range: " + upload.ContentRange()};
        if (step.action == ResumableUpload::Action::kSendChunk) {
          auto body = read(step.offset, step.length);
          if (!body) {
            finish();
            return Fail(body.error().WithContext(what));
          }
          q.body = *body;
        }
        upload.OnResponse(Once(std::move(q)));
        break;
      }
    }
  }
}

}  // namespace eden::gcs
