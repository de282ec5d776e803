#include "dicom/htj2k_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>  // memfd_create
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dicom/htj2k_protocol.h"

namespace eden::dicom {
namespace {

/// Closes a descriptor when it goes.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status WriteAll(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(ErrorCode::kInternal, fmt::format("HTJ2K helper input: {}", std::strerror(errno)));
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return {};
}

/// Reads up to `size` bytes; fewer only at end of file.
Result<size_t> ReadFull(int fd, uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorCode::kInternal, fmt::format("HTJ2K helper answer: {}", std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

/// Starts the helper with fd 3 = `in`, fd 4 = `out`, stdin/stdout/stderr on /dev/null, every
/// other descriptor closed, no environment but a malloc setting, default signal handling.
Result<pid_t> SpawnHelper(const std::string& helper, const std::vector<std::string>& args, int in, int out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, htj2k::kInputFd);  // dup2 clears close-on-exec.
  posix_spawn_file_actions_adddup2(&actions, out, htj2k::kOutputFd);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, htj2k::kOutputFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // One setting, no inherited environment: glibc's malloc advises transparent huge pages for its
  // heap and grows it 32 MiB at a time, so OpenJPH's code blocks and lines (~20 MB for a
  // 3000x2500 radiograph, allocated a piece at a time) fault in 2 MiB pages instead of ~2,200
  // 4 KiB ones: the helper's CPU 82 -> 50 ms (bench/RESULTS.md). Ignored by glibc before 2.35
  // and under sanitizers; memory use is the same (the process ends after one frame).
  char tunables[] = "GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.top_pad=33554432";
  char* envp[] = {tunables, nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, helper.c_str(), &actions, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    return Fail(ErrorCode::kUnavailable, fmt::format("cannot start {}: {}", helper, std::strerror(spawned)));
  }
  return pid;
}

Result<int> WaitHelper(const std::string& helper, pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Fail(ErrorCode::kInternal, fmt::format("waiting for {}: {}", helper, std::strerror(errno)));
  }
  return status;
}

}  // namespace

const std::string& Htj2kHelperPath() {
  static const std::string path = [] {
    namespace fs = std::filesystem;
    std::string candidate;
    if (const char* env = std::getenv("EDEN_HTJ2K_HELPER"); env != nullptr && *env != '\0') {
      candidate = env;
    } else {
      std::error_code ec;
      const fs::path self = fs::read_symlink("/proc/self/exe", ec);
      if (!ec) candidate = (self.parent_path() / htj2k::kHelperName).string();
    }
    return !candidate.empty() && ::access(candidate.c_str(), X_OK) == 0 ? candidate : std::string();
  }();
  return path;
}

std::string MissingHtj2kHelperWarning() {
  if (!Htj2kHelperPath().empty()) return {};
  const char* env = std::getenv("EDEN_HTJ2K_HELPER");
  return fmt::format("{} not found ({}): HTJ2K frames will be decoded by OpenJPEG in-process, ~2.5x slower",
                     htj2k::kHelperName,
                     env != nullptr && *env != '\0' ? fmt::format("EDEN_HTJ2K_HELPER={} is not executable", env)
                                                    : "it belongs beside the eden executable");
}

Result<imaging::PixelFormat> CheckHtj2kAnswer(const htj2k::AnswerHeader& header, size_t answer_size,
                                              const imaging::PixelFormat& expected) {
  if (std::memcmp(header.magic, htj2k::kMagic, sizeof header.magic) != 0) {
    return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper answer without its signature");
  }
  if (header.rows == 0 || header.cols == 0 || header.rows > expected.rows || header.cols > expected.cols) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("HTJ2K helper answered {}x{} for a {}x{} image", header.cols,
                                                          header.rows, expected.cols, expected.rows));
  }
  if (header.bits_stored == 0 || header.bits_stored > expected.bits_allocated || header.is_signed > 1) {
    return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper answered an impossible precision");
  }
  imaging::PixelFormat format = expected;
  format.rows = header.rows;
  format.cols = header.cols;
  format.bits_stored = static_cast<uint16_t>(header.bits_stored);
  format.high_bit = static_cast<uint16_t>(header.bits_stored - 1);
  format.is_signed = expected.is_signed || header.is_signed != 0;
  format.planar = false;
  const size_t need = format.FrameBytes();
  if (header.sample_bytes != need || answer_size < sizeof header || answer_size - sizeof header < need) {
    return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper answer shorter than its frame");
  }
  return format;
}

Result<Jpeg2000Frame> ReadHtj2kAnswer(std::span<const uint8_t> answer, const imaging::PixelFormat& expected) {
  htj2k::AnswerHeader header{};
  if (answer.size() < sizeof header) return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper answer cut short");
  std::memcpy(&header, answer.data(), sizeof header);
  auto format = CheckHtj2kAnswer(header, answer.size(), expected);
  if (!format) return Fail(format.error());
  Jpeg2000Frame out;
  out.format = *format;
  const auto samples = answer.subspan(sizeof header, format->FrameBytes());
  out.bytes.assign(samples.begin(), samples.end());
  return out;
}

Result<Jpeg2000Frame> DecodeHtj2kInHelper(const std::string& helper, std::span<const uint8_t> codestream,
                                          const imaging::PixelFormat& expected, uint64_t max_bytes,
                                          uint32_t min_longest_side) {
  if (helper.empty()) return Fail(ErrorCode::kUnavailable, "no HTJ2K helper");
  Fd in(::memfd_create("eden-htj2k-in", MFD_CLOEXEC));
  if (in.get() < 0) return Fail(ErrorCode::kInternal, fmt::format("memfd_create: {}", std::strerror(errno)));
  if (auto ok = WriteAll(in.get(), codestream); !ok) return Fail(ok.error());
  // The answer comes through a pipe, read straight into the frame's memory while the helper
  // writes it: one copy each way, no shared pages to allocate and fault in.
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return Fail(ErrorCode::kInternal, fmt::format("pipe: {}", std::strerror(errno)));
  Fd answer(ends[0]);
  Result<pid_t> pid = [&] {
    Fd write_end(ends[1]);                            // The helper's only; closed here once it has its copy.
    ::fcntl(write_end.get(), F_SETPIPE_SZ, 1 << 20);  // Fewer switches; the default 64 KiB works too.
    const std::vector<std::string> args = {helper,
                                           std::to_string(expected.rows),
                                           std::to_string(expected.cols),
                                           std::to_string(expected.samples_per_pixel),
                                           std::to_string(expected.bits_allocated),
                                           expected.is_signed ? "1" : "0",
                                           std::to_string(min_longest_side),
                                           std::to_string(max_bytes)};
    return SpawnHelper(helper, args, in.get(), write_end.get());
  }();
  if (!pid) return Fail(pid.error());

  Result<Jpeg2000Frame> frame = [&]() -> Result<Jpeg2000Frame> {
    htj2k::AnswerHeader header{};
    auto got = ReadFull(answer.get(), reinterpret_cast<uint8_t*>(&header), sizeof header);
    if (!got) return Fail(got.error());
    if (*got < sizeof header) return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper found no frame");
    auto format = CheckHtj2kAnswer(header, sizeof header + header.sample_bytes, expected);
    if (!format) return Fail(format.error());
    Jpeg2000Frame out;
    out.format = *format;
    out.bytes.resize(format->FrameBytes());  // Bytes: not zero-filled.
    got = ReadFull(answer.get(), out.bytes.data(), out.bytes.size());
    if (!got) return Fail(got.error());
    if (*got < out.bytes.size()) return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper answer cut short");
    return out;
  }();
  // Closed before waiting: a helper still writing then gets EPIPE/SIGPIPE instead of blocking.
  ::close(answer.release());
  auto status = WaitHelper(helper, *pid);
  if (!status) return Fail(status.error());
  if (WIFSIGNALED(*status)) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("HTJ2K helper killed by signal {}", WTERMSIG(*status)));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return Fail(ErrorCode::kCorruptPixelData, "HTJ2K helper found no frame");
  }
  return frame;
}

}  // namespace eden::dicom
