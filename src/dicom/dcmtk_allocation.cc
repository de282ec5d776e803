#include "dicom/dcmtk_allocation.h"

#include <new>

namespace eden::dicom {
namespace {

/// Largest allocation `new (std::nothrow)` may make on this thread; 0 = no limit.
thread_local size_t t_nothrow_allocation_cap = 0;

}  // namespace

ScopedAllocationCap::ScopedAllocationCap(size_t cap) : previous_(t_nothrow_allocation_cap) {
  t_nothrow_allocation_cap = cap;
}
ScopedAllocationCap::~ScopedAllocationCap() { t_nothrow_allocation_cap = previous_; }

size_t CurrentNothrowAllocationCap() { return t_nothrow_allocation_cap; }

}  // namespace eden::dicom

// Replacements of the nothrow allocation functions ([new.delete.single], [new.delete.array]).
// They defer to the ordinary operator new, so delete/delete[] still match under sanitizers.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  const size_t cap = eden::dicom::CurrentNothrowAllocationCap();
  if (cap != 0 && size > cap) return nullptr;
  try {
    return ::operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  const size_t cap = eden::dicom::CurrentNothrowAllocationCap();
  if (cap != 0 && size > cap) return nullptr;
  try {
    return ::operator new[](size);
  } catch (...) {
    return nullptr;
  }
}
