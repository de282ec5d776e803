// libFuzzer entry point for one target of fuzz/targets.h, chosen at build time
// (EDEN_FUZZ_TARGET_NAME, one executable per target: <name>_fuzzer).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/targets.h"

namespace {
eden::fuzz::Target Find() {
  for (const auto& t : eden::fuzz::AllTargets()) {
    if (t.name == EDEN_FUZZ_TARGET_NAME) return t.run;
  }
  return nullptr;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const eden::fuzz::Target target = Find();
  target(std::span<const uint8_t>(data, size));
  return 0;
}
