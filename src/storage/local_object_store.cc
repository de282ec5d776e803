#include "storage/local_object_store.h"

#include <sys/file.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "core/bytes.h"

namespace eden::storage {
namespace fs = std::filesystem;

namespace {

constexpr size_t kDirectAlign = 4096;           // O_DIRECT: buffer, offset and length aligned to this.
constexpr size_t kDirectMin = size_t{1} << 20;  // Below 1 MiB the page cache is cheaper.

Status WriteAll(int fd, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(ErrorCode::kIo, fmt::format("cannot write: {}", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return {};
}

/// Writes through an aligned per-thread staging buffer (unless the caller's bytes are aligned), the
/// last block zero-padded, then truncates the file to its real size. The staging buffer is a
/// huge-page-backed large block, for the reason in core/bytes.h.
Status WriteDirect(int fd, std::span<const uint8_t> bytes) {
  constexpr size_t kStage = size_t{8} << 20;
  struct Free {
    void operator()(uint8_t* p) const { large_blocks::Free(p, kStage); }
  };
  thread_local std::unique_ptr<uint8_t, Free> stage;
  if (!stage) {
    stage.reset(static_cast<uint8_t*>(large_blocks::Allocate(kStage)));
    if (!stage) return Fail(ErrorCode::kIo, "out of memory");
  }
  size_t done = 0;
  // Bytes that already start on a page (a download, see core/bytes.h) go as they are, whole
  // pages of them; only what is left is copied.
  if (reinterpret_cast<uintptr_t>(bytes.data()) % kDirectAlign == 0) {
    done = bytes.size() / kDirectAlign * kDirectAlign;
    if (auto ok = WriteAll(fd, bytes.first(done)); !ok) return ok;
  }
  while (done < bytes.size()) {
    const size_t n = std::min(kStage, bytes.size() - done);
    const size_t padded = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memcpy(stage.get(), bytes.data() + done, n);
    if (padded > n) std::memset(stage.get() + n, 0, padded - n);
    if (auto ok = WriteAll(fd, {stage.get(), padded}); !ok) return ok;
    done += n;
  }
  if (::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0) {
    return Fail(ErrorCode::kIo, fmt::format("cannot truncate: {}", std::strerror(errno)));
  }
  return {};
}

}  // namespace

LocalObjectStore::LocalObjectStore(fs::path root, std::vector<std::string> owned_folders)
    : root_(std::move(root)), owned_folders_(std::move(owned_folders)) {}

namespace {
constexpr std::string_view kTempMarker = ".eden-tmp-";
}  // namespace

bool LocalObjectStore::IsTempName(const std::string& filename, long* pid) {
  const auto at = filename.rfind(kTempMarker);
  if (at == std::string::npos || at == 0) return false;
  const std::string rest = filename.substr(at + kTempMarker.size());  // "<pid>-<n>"
  const auto dash = rest.find('-');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (dash == std::string::npos || !digits(std::string_view(rest).substr(0, dash)) ||
      !digits(std::string_view(rest).substr(dash + 1))) {
    return false;
  }
  if (pid) *pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
  return true;
}

fs::path LocalObjectStore::PathOf(const std::string& key) const { return root_ / key; }

std::string LocalObjectStore::Uri(const std::string& key) const {
  std::error_code ec;
  const fs::path abs = fs::absolute(PathOf(key), ec);
  return "file://" + (ec ? PathOf(key) : abs).lexically_normal().string();
}

Status LocalObjectStore::Delete(const std::string& key) {
  std::error_code ec;
  fs::remove(PathOf(key), ec);  // False, no error, when it is not there.
  if (ec) return Fail(ErrorCode::kIo, fmt::format("cannot remove {}: {}", PathOf(key).string(), ec.message()));
  return {};
}

Status LocalObjectStore::CheckWritable() {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return Fail(ErrorCode::kUnavailable, fmt::format("cannot create {}: {}", root_.string(), ec.message()));
  if (::access(root_.c_str(), W_OK) != 0) {
    return Fail(ErrorCode::kUnavailable, fmt::format("{} is not writable: {}", root_.string(), std::strerror(errno)));
  }
  // A killed run can leave temporary files (never final names): remove ours, in our folders,
  // unless the process that made one is still running (two runs into one folder).
  for (const std::string& folder : owned_folders_) {
    std::error_code walk;
    for (auto it = fs::directory_iterator(root_ / folder, walk); !walk && it != fs::directory_iterator();
         it.increment(walk)) {
      long pid = 0;
      std::error_code ignored;
      if (!it->is_regular_file(ignored) || !IsTempName(it->path().filename().string(), &pid)) continue;
      if (pid != ::getpid() && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) continue;
      fs::remove(it->path(), ignored);
    }
  }
  return {};
}

Result<fs::path> LocalObjectStore::TempPathFor(const std::string& key) const {
  static std::atomic<uint64_t> counter{0};
  const fs::path path = PathOf(key);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", path.parent_path().string(), ec.message()));
  return fs::path(path.string() + fmt::format("{}{}-{}", kTempMarker, ::getpid(), counter++));
}

Status LocalObjectStore::Put(const std::string& key, std::span<const uint8_t> bytes, const std::string&) {
  const fs::path path = PathOf(key);
  auto tmp_path = TempPathFor(key);
  if (!tmp_path) return Fail(tmp_path.error());
  const fs::path& tmp = *tmp_path;
  std::error_code ec;
  // Large objects bypass the page cache (O_DIRECT): a dataset is written once and not read
  // back, and on this kind of machine copying 10 GB into fresh page-cache pages cost more CPU
  // than converting the images (bench/RESULTS.md). Small objects, or file systems without
  // O_DIRECT (tmpfs), take the ordinary path.
  int fd = -1;
  bool direct = false;
  if (bytes.size() >= kDirectMin) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    direct = fd >= 0;
  }
  if (fd < 0) fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
  Status written = direct ? WriteDirect(fd, bytes) : WriteAll(fd, bytes);
  if (!written && direct) {  // A file system that accepts O_DIRECT at open but not at write.
    ::close(fd);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    written = WriteAll(fd, bytes);
  }
  if (!written) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(written.error().WithContext(tmp.string()));
  }
  // No fsync here: a killed process loses nothing the kernel holds, and durability against a
  // machine crash comes from Flush() before the journal says "stored" (group commit).
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, fmt::format("cannot flush {}", tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Fail(ErrorCode::kIo, fmt::format("cannot rename to {}", path.string()));
  }
  return {};
}

Status LocalObjectStore::Flush() {
  const int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrorCode::kIo, fmt::format("cannot open {}: {}", root_.string(), std::strerror(errno)));
  const int rc = ::syncfs(fd);  // Data and the renames' directory entries, of this file system.
  const int saved = errno;
  ::close(fd);
  if (rc != 0) return Fail(ErrorCode::kIo, fmt::format("cannot flush {}: {}", root_.string(), std::strerror(saved)));
  return {};
}

Status LocalObjectStore::PutFile(const std::string& key, const fs::path& source, const std::string&) {
  // The kernel copies (copy_file_range), then the same rename into place as Put.
  auto tmp = TempPathFor(key);
  if (!tmp) return Fail(tmp.error());
  std::error_code ec;
  fs::copy_file(source, *tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(*tmp, PathOf(key), ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(*tmp, ignored);
    return Fail(ErrorCode::kIo, fmt::format("cannot store {} as {}: {}", source.string(), key, ec.message()));
  }
  return {};
}

namespace {

/// Appends through two 8 MiB aligned staging buffers written with O_DIRECT (a shard is written
/// once and not read back, like the objects Put writes directly): while one is written by a
/// thread of its own, the caller fills the other, so hashing and copying overlap the device's
/// time. The last partial block is padded, then the file truncated to its size; the file is
/// renamed into place at Commit.
class DirectFileWriter final : public ObjectWriter {
 public:
  static constexpr size_t kStage = size_t{8} << 20;
  DirectFileWriter(fs::path tmp, fs::path final_path, int fd, bool direct)
      : tmp_(std::move(tmp)), final_(std::move(final_path)), fd_(fd), direct_(direct) {
    for (auto& stage : stages_) stage.reset(static_cast<uint8_t*>(large_blocks::Allocate(kStage)));
  }
  ~DirectFileWriter() override {
    (void)Wait();
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  Status Write(std::span<const uint8_t> bytes) override {
    if (!stages_[0] || !stages_[1]) return Fail(ErrorCode::kIo, "out of memory");
    while (!bytes.empty()) {
      const size_t n = std::min(bytes.size(), kStage - used_);
      std::memcpy(stages_[current_].get() + used_, bytes.data(), n);
      used_ += n;
      written_ += n;
      bytes = bytes.subspan(n);
      if (used_ == kStage) {
        if (auto ok = Wait(); !ok) return ok;  // The other buffer's write, before it is reused.
        pending_ = std::async(std::launch::async, [this, stage = stages_[current_].get()] {
          return WriteAll(fd_, {stage, kStage});
        });
        current_ ^= 1;
        used_ = 0;
      }
    }
    return {};
  }
  Status Commit() override {
    if (auto ok = Wait(); !ok) return ok;
    if (used_ > 0) {
      const size_t padded = direct_ ? (used_ + kDirectAlign - 1) / kDirectAlign * kDirectAlign : used_;
      std::memset(stages_[current_].get() + used_, 0, padded - used_);
      if (auto ok = WriteAll(fd_, {stages_[current_].get(), padded}); !ok) {
        return Fail(ok.error().WithContext(tmp_.string()));
      }
    }
    const bool truncated = ::ftruncate(fd_, static_cast<off_t>(written_)) == 0;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!truncated || !closed) {
      return Fail(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp_.string(), std::strerror(errno)));
    }
    std::error_code ec;
    fs::rename(tmp_, final_, ec);
    if (ec) return Fail(ErrorCode::kIo, fmt::format("cannot rename to {}: {}", final_.string(), ec.message()));
    committed_ = true;
    return {};
  }
  uint64_t bytes_written() const override { return written_; }

 private:
  Status Wait() {
    if (!pending_.valid()) return {};
    Status ok = pending_.get();
    if (!ok) return Fail(ok.error().WithContext(tmp_.string()));
    return {};
  }
  struct Free {
    void operator()(uint8_t* p) const { large_blocks::Free(p, kStage); }
  };
  fs::path tmp_, final_;
  int fd_;
  bool direct_;
  std::unique_ptr<uint8_t, Free> stages_[2];
  int current_ = 0;
  std::future<Status> pending_;
  size_t used_ = 0;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> LocalObjectStore::OpenWriter(const std::string& key, const std::string&,
                                                                   const fs::path&) {
  auto tmp = TempPathFor(key);
  if (!tmp) return Fail(tmp.error());
  int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  const bool direct = fd >= 0;
  if (fd < 0) fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);  // tmpfs: no O_DIRECT.
  if (fd < 0) return Fail(ErrorCode::kIo, fmt::format("cannot create {}: {}", tmp->string(), std::strerror(errno)));
  return std::unique_ptr<ObjectWriter>(std::make_unique<DirectFileWriter>(*tmp, PathOf(key), fd, direct));
}

Status LocalObjectStore::ForEach(const std::string& prefix, const Visitor& visit) {
  std::error_code ec;
  // Walk the deepest folder the prefix names; keep keys that start with the whole prefix.
  const auto slash = prefix.rfind('/');
  const fs::path start = slash == std::string::npos ? root_ : root_ / prefix.substr(0, slash);
  if (!fs::exists(start, ec)) return {};
  for (auto it = fs::recursive_directory_iterator(start, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string key = fs::relative(it->path(), root_, ec).generic_string();
    if (ec || key.rfind(prefix, 0) != 0 || IsTempName(it->path().filename().string())) continue;
    visit(key, ObjectInfo{static_cast<uint64_t>(it->file_size(ec)), {}});
  }
  if (ec) return Fail(ErrorCode::kIo, fmt::format("cannot list {}: {}", start.string(), ec.message()));
  return {};
}

Result<std::optional<ObjectInfo>> LocalObjectStore::Stat(const std::string& key) {
  std::error_code ec;
  const auto size = fs::file_size(PathOf(key), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return std::optional<ObjectInfo>{};
    return Fail(ErrorCode::kIo, fmt::format("cannot stat {}: {}", PathOf(key).string(), ec.message()));
  }
  return std::optional<ObjectInfo>(ObjectInfo{size, {}});
}

Result<std::vector<uint8_t>> LocalObjectStore::Get(const std::string& key) {
  // One read of the file's size. Objects of 1 MiB or more were written past the page cache
  // (O_DIRECT) and are read the same way: WebDataset shards read every JPEG back, and a cold
  // buffered read of 2.8 GB of them cost 4 s of kernel time here, an O_DIRECT read 1.3 s.
  const fs::path path = PathOf(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Fail(ErrorCode::kNotFound, fmt::format("no object {}", key));
    return Fail(ErrorCode::kIo, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Fail(ErrorCode::kIo, fmt::format("cannot stat {}: {}", path.string(), std::strerror(errno)));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> out(size);
  auto read_all = [&](int from, uint8_t* into, size_t want, size_t* got) -> Status {
    *got = 0;
    while (*got < want) {
      const ssize_t n = ::read(from, into + *got, want - *got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrorCode::kIo, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
      if (n == 0) break;
      *got += static_cast<size_t>(n);
    }
    return {};
  };
  Status status;
  size_t got = 0;
  const int direct = size >= kDirectMin ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
  if (direct >= 0) {
    const size_t padded = (size + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    void* block = large_blocks::Allocate(padded);
    status =
        block ? read_all(direct, static_cast<uint8_t*>(block), padded, &got) : Fail(ErrorCode::kIo, "out of memory");
    if (status && got >= size) std::memcpy(out.data(), block, size);
    if (block) large_blocks::Free(block, padded);
    ::close(direct);
    if (!status || got < size) {  // A file system that refuses O_DIRECT reads: the ordinary way.
      status = read_all(fd, out.data(), size, &got);
    }
  } else {
    status = read_all(fd, out.data(), size, &got);
  }
  ::close(fd);
  if (!status) return Fail(status.error());
  if (got < size) return Fail(ErrorCode::kIo, fmt::format("{} shrank while being read", path.string()));
  return out;
}

namespace {

/// flock(2) on an open file: the kernel releases it when the holder exits, however it exits.
class FileLock final : public DestinationLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() override { Release(); }
  Status Renew() override { return {}; }
  void Release() override {
    if (fd_ < 0) return;
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<DestinationLock>> LocalObjectStore::TryLock(const std::string& key, const std::string& holder,
                                                                   double) {
  const std::filesystem::path path = PathOf(key);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kIo, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::unique_ptr<DestinationLock>();
    return Fail(ErrorCode::kIo, fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
  }
  // Who holds it, for people looking (the lock is the flock, not the text).
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, holder.data(), holder.size(), 0);
  return std::unique_ptr<DestinationLock>(std::make_unique<FileLock>(fd));
}

}  // namespace eden::storage
