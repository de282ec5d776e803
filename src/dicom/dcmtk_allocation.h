#pragma once

#include <cstddef>

namespace eden::dicom {

/// Defence in depth behind PreflightCheck for every DCMTK parse of untrusted bytes (the decoder,
/// the de-identifier): DCMTK allocates a value's declared length before it reads the value, with
/// `new (std::nothrow)`. While one of these is alive on a thread, a nothrow allocation larger than
/// `cap` fails cleanly (DCMTK reports "memory exhausted") instead of reserving gigabytes. While a
/// buffer is parsed no single value can be longer than the buffer, so its size is the cap.
/// (dcmtk_allocation.cc replaces the nothrow operator new for the whole program to do this; with
/// no cap set it behaves as the standard one.)
class ScopedAllocationCap {
 public:
  explicit ScopedAllocationCap(size_t cap);
  ~ScopedAllocationCap();
  ScopedAllocationCap(const ScopedAllocationCap&) = delete;
  ScopedAllocationCap& operator=(const ScopedAllocationCap&) = delete;

 private:
  size_t previous_;
};

/// The cap in force on this thread (0: none).
size_t CurrentNothrowAllocationCap();

}  // namespace eden::dicom
