// eden-htj2k: decodes one HTJ2K frame with OpenJPH in a process of its own, for eden
// (protocol: dicom/htj2k_protocol.h). Not a user command: eden starts it, one frame a process.
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "dicom/htj2k_protocol.h"
#include "htj2k_helper/openjph_codec.h"

// A sanitizer reserves terabytes of address space: no address-space limit under one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDEN_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EDEN_SANITIZED 1
#endif
#endif

namespace {

namespace protocol = eden::dicom::htj2k;

bool ParseNumber(const char* text, uint64_t max, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v > max) return false;
  out = v;
  return true;
}

/// Bounds on this process, set before any input is read: CPU seconds (a codestream that makes
/// the decoder spin), memory (one that makes it allocate without end), no core files, and death
/// with eden.
void LimitSelf(uint64_t max_bytes) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const rlimit cpu{60, 61};
  setrlimit(RLIMIT_CPU, &cpu);
  const rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
#ifndef EDEN_SANITIZED
  // The output frame, OpenJPH's working lines and code blocks (well under the frame again), the
  // program itself.
  const rlim_t bytes = static_cast<rlim_t>(2 * max_bytes + (512ull << 20));
  const rlimit as{bytes, bytes};
  setrlimit(RLIMIT_AS, &as);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t rows = 0, cols = 0, samples = 0, bits = 0, is_signed = 0, min_side = 0, max_bytes = 0;
  if (argc != 8 || !ParseNumber(argv[1], 65535, rows) || !ParseNumber(argv[2], 65535, cols) ||
      !ParseNumber(argv[3], 4, samples) || !ParseNumber(argv[4], 32, bits) || !ParseNumber(argv[5], 1, is_signed) ||
      !ParseNumber(argv[6], 65535, min_side) || !ParseNumber(argv[7], uint64_t{1} << 40, max_bytes)) {
    std::fputs("eden-htj2k: started by eden with a frame on fd 3 (dicom/htj2k_protocol.h), not by hand\n", stderr);
    return 2;
  }
  LimitSelf(max_bytes);

  struct stat in_stat {};
  if (fstat(protocol::kInputFd, &in_stat) != 0 || in_stat.st_size <= 0) return 1;
  const auto in_size = static_cast<size_t>(in_stat.st_size);
  // Populated at once: one call maps every page instead of a page fault each as OpenJPH reads.
  void* in = mmap(nullptr, in_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, protocol::kInputFd, 0);
  if (in == MAP_FAILED) return 1;

  eden::imaging::PixelFormat expected;
  expected.rows = static_cast<uint32_t>(rows);
  expected.cols = static_cast<uint32_t>(cols);
  expected.samples_per_pixel = static_cast<uint16_t>(samples);
  expected.bits_allocated = static_cast<uint16_t>(bits);
  expected.bits_stored = static_cast<uint16_t>(bits);
  expected.high_bit = static_cast<uint16_t>(bits - 1);
  expected.is_signed = is_signed != 0;

  // The answer goes to fd 4 (a pipe eden reads into the frame's memory) a slice of rows at a
  // time, from a buffer that stays in cache: no whole-frame buffer to fault in here.
  auto write_all = [](const void* data, size_t size) -> eden::Status {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t done = 0; done < size;) {
      const ssize_t n = write(protocol::kOutputFd, p + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return eden::Fail(eden::ErrorCode::kInternal, "cannot write the answer");
      done += static_cast<size_t>(n);
    }
    return {};
  };
  eden::htj2k::Sink sink;
  sink.begin = [&](const eden::imaging::PixelFormat& format) -> eden::Status {
    protocol::AnswerHeader header{};
    std::memcpy(header.magic, protocol::kMagic, sizeof header.magic);
    header.rows = format.rows;
    header.cols = format.cols;
    header.bits_stored = format.bits_stored;
    header.is_signed = format.is_signed ? 1 : 0;
    header.sample_bytes = format.FrameBytes();
    return write_all(&header, sizeof header);
  };
  sink.rows = [&](std::span<const uint8_t> slice) { return write_all(slice.data(), slice.size()); };
  auto format = eden::htj2k::DecodeHtj2k({static_cast<const uint8_t*>(in), in_size}, expected, max_bytes,
                                         static_cast<uint32_t>(min_side), sink);
  if (!format) {
    std::fprintf(stderr, "eden-htj2k: %s\n", format.error().message().c_str());
    return 1;
  }
  return 0;
}
