#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "gcs/credentials.h"
#include "gcs/hashes.h"
#include "gcs/json_api.h"
#include "http/curl_transport.h"
#include "http/retry.h"
#include "http/transport.h"

namespace eden::gcs {

struct ClientOptions {
  std::string endpoint = "https://storage.googleapis.com";  ///< Or STORAGE_EMULATOR_HOST / a test server.
  int max_attempts = 6;                          ///< Per request, including the first (Google: retry with backoff).
  long backoff_initial_ms = 500;                 ///< Full-jitter exponential backoff, doubling...
  long backoff_max_ms = 32'000;                  ///< ...up to this (Google's guidance: 32 s).
  size_t resumable_threshold = size_t{8} << 20;  ///< Objects at least this large use a resumable upload.
  size_t chunk_size = size_t{8} << 20;           ///< Resumable chunk; a multiple of 256 KiB.
  http::TransportOptions http;
};

/// Counters for the summary and the benchmark.
struct ClientStats {
  std::atomic<uint64_t> requests{0}, retries{0}, resumed{0}, bytes_sent{0};
};

using Sleeper = http::Sleeper;

/// A Google Cloud Storage JSON API v1 client, layered like google-cloud-cpp: these calls -> a
/// retry loop (http::RetryLoop: 408, 429, 5xx, dropped connections; backoff with jitter; a 401
/// refreshes the token once) -> one request per attempt over an http::Transport (libcurl's by
/// default; a scripted one in tests). Only idempotent requests are retried: every upload carries
/// an ifGenerationMatch precondition. Resumable uploads are driven by ResumableUpload.
/// @par Thread-safety Safe to call from many threads.
class GcsClient {
 public:
  /// `transport` null: a libcurl transport made from options.http.
  GcsClient(ClientOptions options, std::shared_ptr<Credentials> credentials, Sleeper sleeper = {},
            std::shared_ptr<http::Transport> transport = nullptr);

  /// Ok if the bucket exists and the credentials can see it.
  Status GetBucket(const std::string& bucket);
  /// nullopt if the object does not exist.
  Result<std::optional<ObjectMetadata>> GetObjectMetadata(const std::string& bucket, const std::string& name);
  Result<std::vector<uint8_t>> ReadObject(const std::string& bucket, const std::string& name);
  /// Deletes bucket/name; an object already gone is not an error.
  Status DeleteObject(const std::string& bucket, const std::string& name);

  using ListPage = gcs::ListPage;
  Result<ListPage> ListObjects(const std::string& bucket, const std::string& prefix, const std::string& page_token);

  /// Creates bucket/name from `bytes`, sending both hashes so the server rejects a corrupted
  /// body, and checks the hashes it returns. `if_generation_match` 0 means "only if absent";
  /// kFailedPrecondition if it did not hold. Multipart below the resumable threshold; above it a
  /// resumable session whose chunks resume from the server's committed offset after a failure.
  Result<ObjectMetadata> InsertObject(const std::string& bucket, const std::string& name,
                                      std::span<const uint8_t> bytes, const std::string& content_type,
                                      const ObjectHashes& hashes, int64_t if_generation_match);

  /// InsertObject for a file that need not fit in memory: read a chunk at a time; `hashes`
  /// from HashFile (the caller has them already to decide whether to upload at all).
  Result<ObjectMetadata> InsertObjectFromFile(const std::string& bucket, const std::string& name,
                                              const std::filesystem::path& path, uint64_t size,
                                              const std::string& content_type, const ObjectHashes& hashes,
                                              int64_t if_generation_match);

  const ClientStats& stats() const { return stats_; }
  const ClientOptions& options() const { return options_; }

 private:
  Result<http::HttpResponse> Once(http::HttpRequest request);
  Result<http::HttpResponse> WithRetries(const std::function<http::HttpRequest()>& make, const std::string& what);
  Result<ObjectMetadata> Multipart(const std::string& bucket, const std::string& name, std::span<const uint8_t> bytes,
                                   const std::string& content_type, const ObjectHashes& hashes, int64_t generation);
  /// Bytes [offset, offset + n) of the object being uploaded; the view lives until the next call.
  using ChunkReader = std::function<Result<std::span<const uint8_t>>(uint64_t offset, size_t n)>;
  Result<ObjectMetadata> Resumable(const std::string& bucket, const std::string& name, uint64_t total,
                                   const ChunkReader& read, const std::string& content_type, const ObjectHashes& hashes,
                                   int64_t generation);

  ClientOptions options_;
  std::shared_ptr<Credentials> credentials_;
  Sleeper sleeper_;
  http::RetryPolicy retry_;
  http::BackoffPolicy backoff_;
  std::shared_ptr<http::Transport> http_;
  ClientStats stats_;
};

}  // namespace eden::gcs
