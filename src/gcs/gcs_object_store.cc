#include "gcs/gcs_object_store.h"

#include <fmt/format.h>

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

Status GcsObjectStore::Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) {
  const ObjectHashes hashes = HashObject(bytes);
  {
    std::lock_guard lock(mu_);
    auto it = known_.find(key);
    if (it != known_.end() && it->second.size == bytes.size() && it->second.crc32c == hashes.crc32c) {
      ++skipped_;
      return {};
    }
  }
  auto stored = client_->InsertObject(bucket_, key, bytes, content_type, hashes, 0);
  if (!stored && stored.error().code() == ErrorCode::kFailedPrecondition) {
    // Already there: from an attempt whose answer was lost, or an earlier run.
    auto meta = client_->GetObjectMetadata(bucket_, key);
    if (!meta) return Fail(meta.error());
    if (*meta && (*meta)->crc32c == hashes.crc32c && (*meta)->size == bytes.size()) {
      ++skipped_;
      stored = std::move(**meta);
    } else {
      stored = client_->InsertObject(bucket_, key, bytes, content_type, hashes, *meta ? (*meta)->generation : 0);
    }
  }
  if (!stored) return Fail(stored.error());
  std::lock_guard lock(mu_);
  known_[key] = storage::ObjectInfo{stored->size, stored->crc32c};
  return {};
}

Result<std::optional<storage::ObjectInfo>> GcsObjectStore::Stat(const std::string& key) {
  auto meta = client_->GetObjectMetadata(bucket_, key);
  if (!meta) return Fail(meta.error());
  if (!*meta) return std::optional<storage::ObjectInfo>();
  return std::optional<storage::ObjectInfo>(storage::ObjectInfo{(*meta)->size, (*meta)->crc32c});
}

Result<std::vector<uint8_t>> GcsObjectStore::Get(const std::string& key) { return client_->ReadObject(bucket_, key); }

Result<std::map<std::string, storage::ObjectInfo>> GcsObjectStore::List(const std::string& prefix) {
  std::map<std::string, storage::ObjectInfo> out;
  std::string token;
  do {
    auto page = client_->ListObjects(bucket_, prefix, token);
    if (!page) return Fail(page.error());
    for (const auto& m : page->items) out[m.name] = storage::ObjectInfo{m.size, m.crc32c};
    token = page->next_page_token;
  } while (!token.empty());
  std::lock_guard lock(mu_);
  for (const auto& [k, v] : out) known_[k] = v;
  return out;
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

}  // namespace eden::gcs
