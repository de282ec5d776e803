#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "storage/object_store.h"

namespace eden::storage {

/// ObjectStore over a local folder: keys are paths below `root`. Put writes
/// `<path>.eden-tmp-<pid>-<n>` and renames it into place, so a crash never leaves a partial
/// object under the final name; Flush (syncfs) makes everything written so far durable, once
/// per journal batch.
class LocalObjectStore final : public ObjectStore {
 public:
  /// `owned_folders` (relative to `root`): the folders this store's writer owns, where
  /// CheckWritable removes the temporary files a killed run left. Only names of the form above
  /// are removed, only directly in those folders, and never those of a process still running.
  explicit LocalObjectStore(std::filesystem::path root, std::vector<std::string> owned_folders = {});
  Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) override;
  Result<std::optional<ObjectInfo>> Stat(const std::string& key) override;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  Status PutFile(const std::string& key, const std::filesystem::path& path, const std::string& content_type) override;
  /// Writes a temporary file beside the object's path and renames it into place at Commit (no
  /// spool, no copy).
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(const std::string& key, const std::string& content_type,
                                                   const std::filesystem::path& spool) override;
  Status ForEach(const std::string& prefix, const Visitor& visit) override;
  std::string Uri(const std::string& key) const override;
  Status Delete(const std::string& key) override;
  Status CheckWritable() override;
  Status Flush() override;

  std::filesystem::path PathOf(const std::string& key) const;
  Result<std::unique_ptr<DestinationLock>> TryLock(const std::string& key, const std::string& holder,
                                                   double lease_s) override;

  /// True for a name Put gives its temporary files (`*.eden-tmp-<pid>-<n>`); `pid` is set.
  static bool IsTempName(const std::string& filename, long* pid = nullptr);

 private:
  /// A fresh temporary name beside the object's final path (its folder created).
  Result<std::filesystem::path> TempPathFor(const std::string& key) const;
  std::filesystem::path root_;
  std::vector<std::string> owned_folders_;
};

}  // namespace eden::storage
