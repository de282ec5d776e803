#include "dicom/decoder.h"

#include <cstring>

namespace eden::dicom {

bool LooksLikePart10(std::span<const uint8_t> bytes) {
  return bytes.size() >= 132 && std::memcmp(bytes.data() + 128, "DICM", 4) == 0;
}

}  // namespace eden::dicom
