#include "storage/object_store.h"

#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace eden::storage {

bool IsSafeObjectName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

Status ObjectStore::PutFile(const std::string& key, const std::filesystem::path& path,
                            const std::string& content_type) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  return Put(key, bytes, content_type);
}

namespace {

/// Appends to a local file; at Commit, hands it to `commit` (a PutFile or a rename) and removes
/// whatever is left of it. Shared by the default OpenWriter and the local store's.
class FileObjectWriter final : public ObjectWriter {
 public:
  using CommitFn = std::function<Status(const std::filesystem::path&)>;
  FileObjectWriter(std::filesystem::path path, CommitFn commit) : path_(std::move(path)), commit_(std::move(commit)) {}
  ~FileObjectWriter() override {
    out_.close();
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  Status Open() {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) return Fail(ErrorCode::kIo, fmt::format("cannot create {}", path_.string()));
    return {};
  }
  Status Write(std::span<const uint8_t> bytes) override {
    out_.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out_) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", path_.string()));
    written_ += bytes.size();
    return {};
  }
  Status Commit() override {
    out_.close();
    if (!out_) return Fail(ErrorCode::kIo, fmt::format("cannot write {}", path_.string()));
    return commit_(path_);
  }
  uint64_t bytes_written() const override { return written_; }

 private:
  std::filesystem::path path_;
  CommitFn commit_;
  std::ofstream out_;
  uint64_t written_ = 0;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> OpenFileWriter(std::filesystem::path path,
                                                     std::function<Status(const std::filesystem::path&)> commit) {
  auto writer = std::make_unique<FileObjectWriter>(std::move(path), std::move(commit));
  if (auto ok = writer->Open(); !ok) return Fail(ok.error());
  return std::unique_ptr<ObjectWriter>(std::move(writer));
}

Result<std::unique_ptr<ObjectWriter>> ObjectStore::OpenWriter(const std::string& key, const std::string& content_type,
                                                              const std::filesystem::path& spool) {
  return OpenFileWriter(
      spool, [this, key, content_type](const std::filesystem::path& path) { return PutFile(key, path, content_type); });
}

Result<std::map<std::string, ObjectInfo>> ObjectStore::List(const std::string& prefix) {
  std::map<std::string, ObjectInfo> out;
  if (auto ok = ForEach(prefix, [&](const std::string& key, const ObjectInfo& info) { out[key] = info; }); !ok) {
    return Fail(ok.error());
  }
  return out;
}

Result<std::unique_ptr<DestinationLock>> ObjectStore::TryLock(const std::string& key, const std::string&, double) {
  return Fail(ErrorCode::kUnsupported, fmt::format("this destination cannot hold a lock ({})", Uri(key)));
}

}  // namespace eden::storage
