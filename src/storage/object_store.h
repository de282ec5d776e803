#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace eden::storage {

/// What a store knows about an object.
struct ObjectInfo {
  uint64_t size = 0;
  std::string crc32c;  ///< base64 CRC-32C when the store keeps one (GCS); empty otherwise.
};

/// Where a dataset's objects go: a local folder, or a GCS bucket (gcs/gcs_object_store.h). Keys are relative
/// ("<prefix>/images-jpg/<id>.jpg"); a store never shows a half-written object.
/// @par Thread-safety Implementations are safe to call from many threads.
/// @par Idempotency Put of the same key and bytes twice leaves one object.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) = 0;
  /// nullopt if the object does not exist.
  virtual Result<std::optional<ObjectInfo>> Stat(const std::string& key) = 0;
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  /// Stores the file at `path` under `key` without holding it in memory (the CSV of a large
  /// dataset). The default reads the file and calls Put; the local and GCS stores stream it.
  virtual Status PutFile(const std::string& key, const std::filesystem::path& path, const std::string& content_type);
  /// Calls `visit` for every object whose key starts with `prefix`, in one pass (a rerun checks
  /// a whole dataset with one listing instead of one request per object), holding no more than
  /// a page of the listing.
  using Visitor = std::function<void(const std::string& key, const ObjectInfo& info)>;
  virtual Status ForEach(const std::string& prefix, const Visitor& visit) = 0;
  /// ForEach collected into a map: for small listings (eden verify, tests).
  Result<std::map<std::string, ObjectInfo>> List(const std::string& prefix);
  /// A URI naming the object for people and the CSV (file:///..., gs://...).
  virtual std::string Uri(const std::string& key) const = 0;
  /// Removes the object; a missing one is not an error (`eden run --fresh` prunes an older
  /// sample's objects with it).
  virtual Status Delete(const std::string& key) = 0;
  /// Checks the destination is usable (exists, writable) before a run starts.
  virtual Status CheckWritable() = 0;
  /// Makes every object Put so far durable (survives a machine crash). A run calls it before
  /// its journal records objects as stored: one flush per batch instead of one per object.
  virtual Status Flush() { return {}; }
};

/// True if `name` can be used as one path component of an object key: not empty, not "." or
/// "..", no '/', '\\' or NUL, no control characters, at most 200 bytes.
bool IsSafeObjectName(const std::string& name);

}  // namespace eden::storage
