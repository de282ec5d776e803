#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
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

/// An object written a piece at a time (a WebDataset shard of a gigabyte): nothing is visible
/// under its key until Commit; destroyed without Commit, it leaves nothing.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Write(std::span<const uint8_t> bytes) = 0;
  /// Makes the object visible under its key (replacing an older one), written whole.
  virtual Status Commit() = 0;
  virtual uint64_t bytes_written() const = 0;
};

/// Where a dataset's objects go: a local folder, or a GCS bucket (gcs/gcs_object_store.h). Keys are relative
/// A lock in a destination (ObjectStore::TryLock), held until Release or destruction.
class DestinationLock {
 public:
  virtual ~DestinationLock() = default;
  /// Extends a lease by its length from now; kFailedPrecondition if it was lost (expired and
  /// taken by another holder): the holder must stop.
  virtual Status Renew() = 0;
  virtual void Release() = 0;
};

/// ("<prefix>/images-jpg/<id>.jpg"); a store never shows a half-written object.
/// @par Thread-safety Implementations are safe to call from many threads.
/// @par Idempotency Put of the same key and bytes twice leaves one object.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) = 0;
  /// Put, given the bytes' CRC-32C (base64, Crc32cBase64) that the caller computed when it made
  /// them, so that the store does not read them again to hash them. A store that checks uploads
  /// (GCS) sends it for the server to check: a wrong one fails the upload, never stores other
  /// bytes. The default ignores it.
  virtual Status PutWithCrc32c(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type,
                               const std::string& crc32c) {
    (void)crc32c;
    return Put(key, bytes, content_type);
  }
  /// nullopt if the object does not exist.
  virtual Result<std::optional<ObjectInfo>> Stat(const std::string& key) = 0;
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  /// Stores the file at `path` under `key` without holding it in memory (the CSV of a large
  /// dataset). The default reads the file and calls Put; the local and GCS stores stream it.
  virtual Status PutFile(const std::string& key, const std::filesystem::path& path, const std::string& content_type);
  /// Opens `key` for writing a piece at a time. The default spools to `spool` (a local file path,
  /// removed afterwards) and stores it with PutFile at Commit: a store that needs an object's
  /// length and hashes before it can upload it (GCS) gets them. The local store writes in place.
  virtual Result<std::unique_ptr<ObjectWriter>> OpenWriter(const std::string& key, const std::string& content_type,
                                                           const std::filesystem::path& spool);
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
  /// A lock named `key` for schedulers (`eden run --every`): one holder at a time, across
  /// machines, let go when its holder dies — a local folder: flock(2) on the file, which the
  /// kernel drops with the process; GCS: a lease object that expires `lease_s` after its last
  /// renewal. `holder` is written into it (who holds it, for people). nullptr when another
  /// holder has it. The default: kUnsupported.
  virtual Result<std::unique_ptr<DestinationLock>> TryLock(const std::string& key, const std::string& holder,
                                                           double lease_s);
};

/// A writer appending to the local file `path` (created or truncated); Commit closes it and calls
/// `commit(path)`; the file is removed when the writer goes, committed or not (a rename at commit
/// leaves nothing to remove).
Result<std::unique_ptr<ObjectWriter>> OpenFileWriter(std::filesystem::path path,
                                                     std::function<Status(const std::filesystem::path&)> commit);

/// True if `name` can be used as one path component of an object key: not empty, not "." or
/// "..", no '/', '\\' or NUL, no control characters, at most 200 bytes.
bool IsSafeObjectName(const std::string& name);

}  // namespace eden::storage
