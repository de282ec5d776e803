#pragma once

#include <filesystem>

#include "storage/object_store.h"

namespace eden::storage {

/// ObjectStore over a local folder: keys are paths below `root`. Put writes `<path>.tmp-<n>`
/// and renames it into place, so a crash never leaves a partial object under the final name;
/// Flush (syncfs) makes everything written so far durable, once per journal batch.
class LocalObjectStore final : public ObjectStore {
 public:
  explicit LocalObjectStore(std::filesystem::path root);
  Status Put(const std::string& key, std::span<const uint8_t> bytes, const std::string& content_type) override;
  Result<std::optional<ObjectInfo>> Stat(const std::string& key) override;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  Status PutFile(const std::string& key, const std::filesystem::path& path, const std::string& content_type) override;
  Status ForEach(const std::string& prefix, const Visitor& visit) override;
  std::string Uri(const std::string& key) const override;
  Status CheckWritable() override;
  Status Flush() override;

  std::filesystem::path PathOf(const std::string& key) const;

 private:
  /// A fresh temporary name beside the object's final path (its folder created).
  Result<std::filesystem::path> TempPathFor(const std::string& key) const;
  std::filesystem::path root_;
};

}  // namespace eden::storage
