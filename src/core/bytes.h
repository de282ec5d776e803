#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace eden {

/// An allocator for large byte buffers that are written to disk with O_DIRECT: blocks of 1 MiB
/// and more start on a 2 MiB boundary, are padded to whole 4 KiB pages and are advised for
/// transparent huge pages. O_DIRECT can then write them with no staging copy, and the device
/// gets a few large segments per request instead of one per 4 KiB page. Smaller blocks are plain
/// `malloc`. Stateless: any two compare equal.
template <class T>
struct PageAlignedAllocator {
  using value_type = T;
  static constexpr size_t kLarge = size_t{1} << 20;
  static constexpr size_t kAlign = size_t{2} << 20;
  static constexpr size_t kPage = 4096;

  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) {}  // NOLINT: rebinding is implicit.

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T) - kPage) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    void* p = nullptr;
    if (bytes >= kLarge) {
      const size_t padded = (bytes + kPage - 1) / kPage * kPage;
      if (::posix_memalign(&p, kAlign, padded) != 0) p = nullptr;
      if (p) ::madvise(p, padded, MADV_HUGEPAGE);  // Advice only.
    } else {
      p = std::malloc(bytes == 0 ? 1 : bytes);
    }
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }

  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const {
    return true;
  }
};

/// A downloaded object: bytes that may go to disk with O_DIRECT as they are.
using Bytes = std::vector<uint8_t, PageAlignedAllocator<uint8_t>>;

}  // namespace eden
