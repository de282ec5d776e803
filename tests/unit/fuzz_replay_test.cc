// Every input that ever crashed, hung or broke an invariant in a fuzz target is kept in
// tests/data/fuzz/<target>/ and replayed here through the same target function, on every CI run
// (under ASan+UBSan in the asan preset, ThreadSanitizer in the tsan one). A target aborts on a
// broken invariant, so "handled" means: returned.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/targets.h"

namespace eden::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(FuzzReplay, EveryKeptInputIsHandledByItsTarget) {
  size_t replayed = 0;
  for (const auto& target : AllTargets()) {
    const fs::path dir = fs::path(FUZZ_KEPT_DIR) / std::string(target.name);
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      SCOPED_TRACE(entry.path().string());
      target.run(ReadFile(entry.path()));
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 4u);  // At least the decoder's kept inputs are there.
}

TEST(FuzzReplay, EveryKeptFolderNamesATarget) {
  std::set<std::string> names;
  for (const auto& target : AllTargets()) names.insert(std::string(target.name));
  for (const auto& entry : fs::directory_iterator(FUZZ_KEPT_DIR)) {
    EXPECT_TRUE(names.count(entry.path().filename().string())) << entry.path() << " is replayed by no target";
  }
}

TEST(FuzzReplay, EveryTargetTakesEmptyAndTinyInputs) {
  for (const auto& target : AllTargets()) {
    SCOPED_TRACE(std::string(target.name));
    target.run({});
    const std::vector<uint8_t> tiny = {0x00, 0xFF, '{', '}', '\n', '=', 0x80};
    for (size_t n = 1; n <= tiny.size(); ++n) target.run(std::span<const uint8_t>(tiny.data(), n));
  }
}

}  // namespace
}  // namespace eden::fuzz
