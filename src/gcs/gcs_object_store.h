#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "gcs/client.h"
#include "storage/object_store.h"

namespace eden::gcs {

/// "gs://bucket/some/prefix" -> {bucket, "some/prefix"}. kInvalidArgument for anything else.
struct GcsUrl {
  std::string bucket, prefix;
};
Result<GcsUrl> ParseGcsUrl(const std::string& url);

/// ObjectStore over a GCS bucket. Put uploads with ifGenerationMatch=0 and both hashes; if the
/// object already exists with the same CRC32C and size it is left alone (a retried or rerun
/// upload stores nothing twice), otherwise it is replaced with ifGenerationMatch=<its
/// generation>. Objects seen by List() are remembered, so a rerun does not even send them.
class GcsObjectStore final : public storage::ObjectStore {
 public:
  GcsObjectStore(std::shared_ptr<GcsClient> client, std::string bucket);

  Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) override;
  Result<std::optional<storage::ObjectInfo>> Stat(const std::string& key) override;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  Result<std::map<std::string, storage::ObjectInfo>> List(const std::string& prefix) override;
  std::string Uri(const std::string& key) const override;
  Status CheckWritable() override;

  /// Objects this store skipped because an identical one was already there.
  uint64_t skipped() const { return skipped_; }
  const GcsClient& client() const { return *client_; }

 private:
  std::shared_ptr<GcsClient> client_;
  std::string bucket_;
  std::mutex mu_;
  std::map<std::string, storage::ObjectInfo> known_;
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace eden::gcs
