#include "gcs/gcs_object_store.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "digest/digest.h"

namespace eden::gcs {

Result<GcsUrl> ParseGcsUrl(const std::string& url) {
  if (url.rfind("gs://", 0) != 0) return Fail(ErrorCode::kInvalidArgument, fmt::format("not a gs:// URL: {}", url));
  std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  GcsUrl out;
  out.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash + 1);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  // Bucket names: 3-63 characters of a-z, 0-9, '-', '_', '.' (Google's naming rules, simplified).
  const bool ok = out.bucket.size() >= 3 && out.bucket.size() <= 222 &&
                  out.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
  if (!ok) return Fail(ErrorCode::kInvalidArgument, fmt::format("not a valid bucket name in {}", url));
  return out;
}

GcsObjectStore::GcsObjectStore(std::shared_ptr<GcsClient> client, std::string bucket)
    : client_(std::move(client)), bucket_(std::move(bucket)) {}

GcsObjectStore::Digest GcsObjectStore::KnownKey(const std::string& key, const std::string& crc32c) {
  // 128 bits of SHA-256 over key NUL crc32c: two listed objects share a digest with odds of
  // about n^2 / 2^129 (1e-27 for a billion objects), where a 64-bit std::hash gives a real
  // chance at scale, and a collision would skip an upload.
  std::string text = key;
  text.push_back('\0');
  text += crc32c;
  const auto sha = digest::Sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  Digest d{};
  std::memcpy(d.data(), sha.data(), sizeof d);
  return d;
}

Status GcsObjectStore::Store(const std::string& key, uint64_t size, const ObjectHashes& hashes, const Upload& upload) {
  {
    std::lock_guard lock(mu_);
    auto it = known_.find(KnownKey(key, hashes.crc32c));
    if (it != known_.end() && it->second == size && !deleted_.count(key)) {
      ++skipped_;
      return {};
    }
  }
  auto stored = upload(0);
  if (!stored && stored.error().code() == ErrorCode::kFailedPrecondition) {
    // Already there: from an attempt whose answer was lost, or an earlier run.
    auto meta = client_->GetObjectMetadata(bucket_, key);
    if (!meta) return Fail(meta.error());
    if (*meta && (*meta)->crc32c == hashes.crc32c && (*meta)->size == size) {
      ++skipped_;
      return {};
    }
    stored = upload(*meta ? (*meta)->generation : 0);
  }
  if (!stored) return Fail(stored.error());
  return {};
}

Status GcsObjectStore::Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) {
  return PutWithCrc32c(key, bytes, content_type, HashObject(bytes).crc32c);
}

Status GcsObjectStore::PutWithCrc32c(const std::string& key, std::span<const uint8_t> bytes,
                                     const std::string& content_type, const std::string& crc32c) {
  const ObjectHashes hashes{crc32c, ""};
  return Store(key, bytes.size(), hashes, [&](int64_t generation) {
    return client_->InsertObject(bucket_, key, bytes, content_type, hashes, generation);
  });
}

Status GcsObjectStore::PutFile(const std::string& key, const std::filesystem::path& path,
                               const std::string& content_type) {
  auto file = HashFile(path);
  if (!file) return Fail(file.error());
  return Store(key, file->size, file->hashes, [&](int64_t generation) {
    return client_->InsertObjectFromFile(bucket_, key, path, file->size, content_type, file->hashes, generation);
  });
}

Result<std::optional<storage::ObjectInfo>> GcsObjectStore::Stat(const std::string& key) {
  auto meta = client_->GetObjectMetadata(bucket_, key);
  if (!meta) return Fail(meta.error());
  if (!*meta) return std::optional<storage::ObjectInfo>();
  return std::optional<storage::ObjectInfo>(storage::ObjectInfo{(*meta)->size, (*meta)->crc32c});
}

Status GcsObjectStore::Delete(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    deleted_.insert(key);
  }
  return client_->DeleteObject(bucket_, key);
}

Result<std::vector<uint8_t>> GcsObjectStore::Get(const std::string& key) { return client_->ReadObject(bucket_, key); }

Status GcsObjectStore::ForEach(const std::string& prefix, const Visitor& visit) {
  std::string token;
  do {
    auto page = client_->ListObjects(bucket_, prefix, token);
    if (!page) return Fail(page.error());
    {
      std::lock_guard lock(mu_);
      for (const auto& m : page->items) known_[KnownKey(m.name, m.crc32c)] = m.size;
    }
    for (const auto& m : page->items) visit(m.name, storage::ObjectInfo{m.size, m.crc32c});
    token = page->next_page_token;
  } while (!token.empty());
  return {};
}

std::string GcsObjectStore::Uri(const std::string& key) const { return "gs://" + bucket_ + "/" + key; }

Status GcsObjectStore::CheckWritable() {
  auto ok = client_->GetBucket(bucket_);
  if (!ok && ok.error().code() == ErrorCode::kNotFound) {
    return Fail(ErrorCode::kUnavailable,
                fmt::format("bucket gs://{} does not exist (or these credentials cannot see it)", bucket_));
  }
  return ok;
}

namespace {

double EpochSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string LeaseBody(const std::string& holder, double lease_s) {
  return nlohmann::json({{"holder", holder}, {"expires_at", EpochSeconds() + lease_s}, {"lease_s", lease_s}}).dump();
}

/// The lease: renewals and the release are conditional on the generation this holder wrote,
/// so a holder that lost its lease (expired, taken over) can neither extend nor delete another's.
class GcsLease final : public storage::DestinationLock {
 public:
  GcsLease(std::shared_ptr<GcsClient> client, std::string bucket, std::string key, std::string holder, double lease_s,
           int64_t generation)
      : client_(std::move(client)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        holder_(std::move(holder)),
        lease_s_(lease_s),
        generation_(generation) {}
  ~GcsLease() override { Release(); }

  Status Renew() override {
    if (generation_ == 0) return Fail(ErrorCode::kFailedPrecondition, "the lease was released");
    const std::string body = LeaseBody(holder_, lease_s_);
    const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    auto written = client_->InsertObject(bucket_, key_, bytes, "application/json", HashObject(bytes), generation_);
    if (!written) {
      if (written.error().code() == ErrorCode::kFailedPrecondition) generation_ = 0;  // Lost to another holder.
      return Fail(written.error().WithContext("renewing the lease"));
    }
    generation_ = written->generation;
    return {};
  }

  void Release() override {
    if (generation_ == 0) return;
    auto now = client_->GetObjectMetadata(bucket_, key_);
    if (now && *now && (*now)->generation == generation_) (void)client_->DeleteObject(bucket_, key_);
    generation_ = 0;
  }

 private:
  std::shared_ptr<GcsClient> client_;
  std::string bucket_, key_, holder_;
  double lease_s_;
  int64_t generation_;
};

}  // namespace

Result<std::unique_ptr<storage::DestinationLock>> GcsObjectStore::TryLock(const std::string& key,
                                                                          const std::string& holder, double lease_s) {
  auto existing = client_->GetObjectMetadata(bucket_, key);
  if (!existing) return Fail(existing.error());
  int64_t if_generation = 0;
  if (*existing) {
    auto body = client_->ReadObject(bucket_, key);
    if (!body && body.error().code() != ErrorCode::kNotFound) return Fail(body.error());
    if (body) {
      const auto lease = nlohmann::json::parse(body->begin(), body->end(), nullptr, false);
      const double expires = lease.is_object() ? lease.value("expires_at", 0.0) : 0.0;
      if (EpochSeconds() < expires) return std::unique_ptr<storage::DestinationLock>();  // Held.
    }
    if_generation = (*existing)->generation;  // Expired (its holder died): take it over.
  }
  const std::string text = LeaseBody(holder, lease_s);
  const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  auto written = client_->InsertObject(bucket_, key, bytes, "application/json", HashObject(bytes), if_generation);
  if (!written) {
    if (written.error().code() == ErrorCode::kFailedPrecondition) {
      return std::unique_ptr<storage::DestinationLock>();  // Another holder was quicker.
    }
    return Fail(written.error());
  }
  return std::unique_ptr<storage::DestinationLock>(
      std::make_unique<GcsLease>(client_, bucket_, key, holder, lease_s, written->generation));
}

}  // namespace eden::gcs
