#include "core/bytes.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

namespace eden {

void AppendTo(Bytes& bytes, std::span<const uint8_t> data, size_t at_least) {
  if (data.empty()) return;
  const size_t old = bytes.size();
  if (bytes.capacity() - old < data.size()) {
    Bytes grown;
    grown.reserve(std::max({at_least, old + data.size(), bytes.capacity() * 2, size_t{64} << 10}));
    grown.resize(old);  // Default-initialised elements: no fill (see PageAlignedAllocator::construct).
    if (old > 0) std::memcpy(grown.data(), bytes.data(), old);
    bytes.swap(grown);
  }
  bytes.resize(old + data.size());
  std::memcpy(bytes.data() + old, data.data(), data.size());
}

}  // namespace eden

namespace eden::large_blocks {
namespace {

size_t Rounded(size_t bytes) { return (bytes + kUnit - 1) / kUnit * kUnit; }

/// Freed blocks by size, for reuse. The run keeps a few dozen downloads in flight, all of
/// similar sizes, so a multimap by exact rounded size finds one almost every time.
struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;
  size_t kept = 0;
};

Pool& ThePool() {
  static auto* pool = new Pool;  // Never destroyed: blocks may be freed during static destruction.
  return *pool;
}

void* MapAligned(size_t size) {
  // Over-map by one unit, then unmap the misaligned head and the tail.
  void* raw = ::mmap(nullptr, size + kUnit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kUnit - 1) / kUnit * kUnit;
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + size + kUnit;
  // NOLINTBEGIN(performance-no-int-to-ptr): aligning an address of our own mapping is arithmetic on it.
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  void* block = reinterpret_cast<void*>(aligned);
  // NOLINTEND(performance-no-int-to-ptr)
  ::madvise(block, size, MADV_HUGEPAGE);  // Advice only: without THP the block still works.
  return block;
}

}  // namespace

void* Allocate(size_t bytes) {
  const size_t size = Rounded(bytes);
  Pool& pool = ThePool();
  {
    std::lock_guard lock(pool.mu);
    if (auto it = pool.free_blocks.find(size); it != pool.free_blocks.end()) {
      void* block = it->second;
      pool.free_blocks.erase(it);
      pool.kept -= size;
      return block;
    }
  }
  return MapAligned(size);
}

void Free(void* block, size_t bytes) noexcept {
  if (!block) return;
  const size_t size = Rounded(bytes);
  Pool& pool = ThePool();
  {
    std::lock_guard lock(pool.mu);
    if (pool.kept + size <= kKeepBytes) {
      try {
        pool.free_blocks.emplace(size, block);
        pool.kept += size;
        return;
      } catch (const std::bad_alloc&) {
        // No room to remember it: unmap it instead.
      }
    }
  }
  ::munmap(block, size);
}

void ReleaseKept() noexcept {
  Pool& pool = ThePool();
  std::lock_guard lock(pool.mu);
  for (const auto& [size, block] : pool.free_blocks) ::munmap(block, size);
  pool.free_blocks.clear();
  pool.kept = 0;
}

}  // namespace eden::large_blocks
