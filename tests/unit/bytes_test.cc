#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/bytes.h"

namespace eden {
namespace {

TEST(LargeBlocks, AreAlignedWritableAndReusedOnceFreed) {
  void* a = large_blocks::Allocate((size_t{7} << 20) + 123);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % large_blocks::kUnit, 0u);
  std::memset(a, 0xAB, size_t{8} << 20);  // The whole rounded-up block is usable.
  large_blocks::Free(a, (size_t{7} << 20) + 123);
  // The same rounded size gets the freed block back (still mapped, still faulted in).
  void* b = large_blocks::Allocate(size_t{7} << 20);
  EXPECT_EQ(b, a);
  EXPECT_EQ(static_cast<uint8_t*>(b)[(size_t{8} << 20) - 1], 0xAB);
  large_blocks::Free(b, size_t{7} << 20);
}

TEST(LargeBlocks, KeepAtMostTheBoundAndUnmapTheRest) {
  // Free more than the pool keeps, each block marked; allocating as many again gives back the
  // kept ones (marked) and fresh zeroed mappings for the part that was unmapped.
  constexpr size_t kSize = size_t{16} << 20;
  const size_t n = large_blocks::kKeepBytes / kSize + 3;
  large_blocks::ReleaseKept();  // Start from an empty pool, whatever ran before.
  std::vector<void*> blocks;
  for (size_t i = 0; i < n; ++i) blocks.push_back(large_blocks::Allocate(kSize));
  for (void* p : blocks) {
    static_cast<uint8_t*>(p)[0] = 0xAB;
    large_blocks::Free(p, kSize);
  }
  size_t kept = 0;
  blocks.clear();
  for (size_t i = 0; i < n; ++i) {
    blocks.push_back(large_blocks::Allocate(kSize));
    kept += static_cast<uint8_t*>(blocks.back())[0] == 0xAB ? 1 : 0;
  }
  EXPECT_EQ(kept, large_blocks::kKeepBytes / kSize);
  for (void* p : blocks) large_blocks::Free(p, kSize);
}

TEST(Bytes, LargeVectorsStartOnAHugePageAndSmallOnesWork) {
  Bytes big(size_t{3} << 20, 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % large_blocks::kUnit, 0u);
  Bytes small = {1, 2, 3};
  small.insert(small.end(), big.begin(), big.begin() + 10);  // Grows across allocators' paths.
  EXPECT_EQ(small.size(), 13u);
  EXPECT_EQ(small[12], 7);
  Bytes grown;
  for (int i = 0; i < (3 << 20); ++i) grown.push_back(static_cast<uint8_t>(i));  // Small -> large.
  EXPECT_EQ(grown[(3 << 20) - 1], static_cast<uint8_t>((3 << 20) - 1));
}

TEST(Bytes, AppendToKeepsEveryByteInOrderAcrossGrowth) {
  // Chunks of awkward sizes, as a socket delivers them, from 0 to past the small/large boundary.
  std::vector<uint8_t> source((size_t{5} << 20) + 4321);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  for (const size_t announced : {size_t{0}, source.size()}) {
    Bytes bytes;
    size_t at = 0;
    for (size_t chunk = 1; at < source.size(); chunk = chunk * 3 % 700001 + 1) {
      const size_t n = std::min(chunk, source.size() - at);
      AppendTo(bytes, {source.data() + at, n}, announced);
      at += n;
    }
    ASSERT_EQ(bytes.size(), source.size());
    EXPECT_EQ(std::memcmp(bytes.data(), source.data(), source.size()), 0) << "announced " << announced;
    if (announced > 0) {
      EXPECT_EQ(bytes.capacity(), announced);  // One allocation of that size.
    }
  }
  Bytes small = {1, 2};
  AppendTo(small, {}, 0);
  EXPECT_EQ(small, (Bytes{1, 2}));
}

}  // namespace
}  // namespace eden
