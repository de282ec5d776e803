#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace eden::fuzz {

/// One fuzz target: every parser that takes bytes from outside eden has one. Each function
/// feeds arbitrary bytes through the code under test and returns; a crash, a sanitizer report,
/// a hang, an oversized allocation or a broken invariant (checked with Check, which aborts) is
/// a bug. The same functions replay the kept crash inputs in the unit tests
/// (tests/unit/fuzz_replay_test.cc) and run under libFuzzer (fuzz/entry.cc).
using Target = void (*)(std::span<const uint8_t> data);

struct NamedTarget {
  std::string_view name;  ///< Also the folder of its kept inputs: tests/data/fuzz/<name>/.
  Target run;
};

/// Every target, by name: convert, jpeg_lossless, rle, jpeg2000, celery_message, gcs_json,
/// config, pacs_row, deid, report.
const std::vector<NamedTarget>& AllTargets();

/// Aborts with `what` when `condition` is false: an invariant the fuzzer must never break.
void Check(bool condition, const char* what);

}  // namespace eden::fuzz
