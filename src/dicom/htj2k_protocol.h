#pragma once

#include <cstdint>

/// How eden talks to its HTJ2K decoder process (`eden-htj2k`, src/htj2k_helper). OpenJPH, the
/// fast HTJ2K decoder, is not safe on hostile input (fuzzing OpenJPH 0.9.0 found a heap overflow
/// while it reads a QCC marker, assertion aborts while it parses packet headers and a 74 GB
/// allocation in 30 seconds: docs/fuzzing.md), so it never runs inside eden: each frame is
/// decoded by a short-lived process with no open files but its two, no environment, and limits
/// on CPU time and memory. A crash there costs that one frame's fast path; eden then decodes the
/// frame with OpenJPEG (fuzzed in-process, docs/fuzzing.md), whose verdict is the one reported.
///
///   argv:  eden-htj2k ROWS COLS SAMPLES BITS_ALLOCATED SIGNED MIN_LONGEST_SIDE MAX_BYTES
///          (the DICOM attributes; MIN_LONGEST_SIDE 0 = full resolution)
///   fd 3:  the codestream (a memfd, read whole)
///   fd 4:  the answer (a pipe): an AnswerHeader, then the samples, components interleaved,
///          BITS_ALLOCATED/8 bytes each, native byte order
///   exit:  0 when fd 4 got a whole answer; anything else (1: refused or failed; a signal)
///          means "no answer", whatever was written
namespace eden::dicom::htj2k {

inline constexpr char kHelperName[] = "eden-htj2k";
inline constexpr int kInputFd = 3;
inline constexpr int kOutputFd = 4;
inline constexpr char kMagic[8] = {'E', 'D', 'H', 'T', 'J', '2', 'K', '1'};

struct AnswerHeader {
  char magic[8];
  uint32_t rows;
  uint32_t cols;
  uint32_t bits_stored;  ///< The codestream's precision.
  uint32_t is_signed;    ///< The codestream's signedness (0 or 1).
  uint64_t sample_bytes;
};
static_assert(sizeof(AnswerHeader) == 32);

}  // namespace eden::dicom::htj2k
