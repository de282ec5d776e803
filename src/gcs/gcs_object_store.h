#pragma once

#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/result.h"
#include "gcs/client.h"
#include "storage/object_store.h"

namespace eden::gcs {

/// "gs://bucket/some/prefix" -> {bucket, "some/prefix"}. kInvalidArgument for anything else.
struct GcsUrl {
  std::string bucket, prefix;
};
Result<GcsUrl> ParseGcsUrl(const std::string& url);

/// ObjectStore over a GCS bucket. Put uploads with ifGenerationMatch=0 and the CRC-32C; if the
/// object already exists with the same CRC32C and size it is left alone (a retried or rerun
/// upload stores nothing twice), otherwise it is replaced with ifGenerationMatch=<its
/// generation>. Objects seen by ForEach() are remembered (about 60 bytes each), so a rerun does not
/// even send them.
class GcsObjectStore final : public storage::ObjectStore {
 public:
  GcsObjectStore(std::shared_ptr<GcsClient> client, std::string bucket);

  Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) override;
  Status PutWithCrc32c(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type,
                       const std::string& crc32c) override;
  Result<std::optional<storage::ObjectInfo>> Stat(const std::string& key) override;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  Status PutFile(const std::string& key, const std::filesystem::path& path, const std::string& content_type) override;
  Status ForEach(const std::string& prefix, const Visitor& visit) override;
  std::string Uri(const std::string& key) const override;
  Status Delete(const std::string& key) override;
  Status CheckWritable() override;
  /// A lease object: JSON {holder, expires_at}; taken if absent (ifGenerationMatch=0) or
  /// expired (ifGenerationMatch=<its generation>), renewed the same way; a lost race is nullptr.
  Result<std::unique_ptr<storage::DestinationLock>> TryLock(const std::string& key, const std::string& holder,
                                                            double lease_s) override;

  /// Objects this store skipped because an identical one was already there.
  uint64_t skipped() const { return skipped_; }
  const GcsClient& client() const { return *client_; }

 private:
  /// Uploads unless an identical object is known or found to be there already.
  using Upload = std::function<Result<ObjectMetadata>(int64_t if_generation_match)>;
  Status Store(const std::string& key, uint64_t size, const ObjectHashes& hashes, const Upload& upload);
  /// Listed objects as digest(key, crc32c) -> size: 16 bytes of SHA-256, about 60 MB a
  /// million objects instead of ~200 for the names.
  using Digest = std::array<uint8_t, 16>;
  struct DigestHash {
    size_t operator()(const Digest& d) const {
      size_t h;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  static Digest KnownKey(const std::string& key, const std::string& crc32c);

  std::shared_ptr<GcsClient> client_;
  std::string bucket_;
  std::mutex mu_;
  std::unordered_map<Digest, uint64_t, DigestHash> known_;
  std::unordered_set<std::string> deleted_;  ///< Deleted since listed: `known_` no longer vouches for them.
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace eden::gcs
