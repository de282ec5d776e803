#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace eden {

/// Large blocks for buffers written to disk with O_DIRECT: mapped 2 MiB-aligned, in whole
/// 2 MiB units, advised for transparent huge pages, and kept for reuse once freed (up to a
/// bound), so they stay backed by huge pages instead of being mapped and zeroed again.
///
/// Why: an O_DIRECT request carries one segment per physically contiguous piece of the buffer.
/// With 4 KiB pages a request is at most `max_segments` pages (254 on virtio-blk: ~1 MiB in 254
/// pieces); with 2 MiB pages a 4 MiB request is 2 pieces. On a VM whose block device is emulated
/// on the same CPUs, that cut the host's cost of writing ~5x (bench/RESULTS.md). Heap memory does
/// not give this: glibc reuses pages already faulted in at 4 KiB.
/// @par Thread-safety All functions are thread-safe.
namespace large_blocks {
inline constexpr size_t kUnit = size_t{2} << 20;
/// Blocks at least this big come from here; smaller ones are plain malloc.
inline constexpr size_t kThreshold = size_t{1} << 20;
/// Freed blocks kept for reuse, in bytes (what the pool adds to peak RSS at most); beyond it
/// they are unmapped. Sized for a run's mix of download (~8 MiB) and decoded-frame (~16 MiB)
/// blocks: at 64 MiB the pool kept unmapping and re-faulting them (kernel page zeroing 0.84% of
/// the pipeline bench's CPU; 0.29% at 128 MiB, peak RSS the same ~310 MB).
inline constexpr size_t kKeepBytes = size_t{128} << 20;

/// A block of at least `bytes` (rounded up to kUnit), kUnit-aligned; nullptr if out of memory.
void* Allocate(size_t bytes);
/// Returns a block from Allocate; `bytes` is the size asked for.
void Free(void* block, size_t bytes) noexcept;
/// Unmaps every block kept for reuse.
void ReleaseKept() noexcept;
}  // namespace large_blocks

/// An allocator whose blocks of large_blocks::kThreshold and more are large blocks: page-aligned
/// (O_DIRECT can write them as they are) and huge-page backed. Stateless: any two compare equal.
template <class T>
struct PageAlignedAllocator {
  using value_type = T;

  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) {}  // NOLINT: rebinding is implicit.

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T) - large_blocks::kUnit) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    void* p = bytes >= large_blocks::kThreshold ? large_blocks::Allocate(bytes) : std::malloc(bytes == 0 ? 1 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= large_blocks::kThreshold) {
      large_blocks::Free(p, bytes);
    } else {
      std::free(p);
    }
  }

  /// Elements made without a value are default-initialised, i.e. left as they are: `resize(n)`
  /// and `Bytes(n)` do not zero-fill (the bytes are about to be overwritten, as in AppendTo).
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const {
    return true;
  }
};

/// A downloaded object: bytes that may go to disk with O_DIRECT as they are.
using Bytes = std::vector<uint8_t, PageAlignedAllocator<uint8_t>>;

/// Appends `data` to `bytes` with one memcpy, growing the capacity geometrically (never below
/// `at_least`, e.g. an announced Content-Length). Use it instead of `insert` for anything big:
/// with an allocator other than std::allocator, libstdc++ copies a range into a vector element by
/// element (a byte loop: 5 CPU-s per 7 GB in the pipeline bench, bench/RESULTS.md).
void AppendTo(Bytes& bytes, std::span<const uint8_t> data, size_t at_least = 0);

}  // namespace eden
