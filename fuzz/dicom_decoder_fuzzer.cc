// libFuzzer target: arbitrary bytes through the decoder, every frame through the renderer.
// Any crash, hang, sanitizer report or allocation over -malloc_limit_mb is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dicom/dcmtk_decoder.h"
#include "imaging/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits keep each input cheap; the code paths are the same as with the defaults.
  static const eden::dicom::DcmtkDecoder decoder(eden::dicom::DecodeLimits{16u << 20, 4096});
  auto object = decoder.Open(std::span<const uint8_t>(data, size));
  if (!object) return 0;
  const uint32_t frames = std::min<uint32_t>((*object)->info().number_of_frames, 4);
  for (uint32_t i = 0; i < frames; ++i) {
    auto frame = (*object)->DecodeFrame(i);
    if (!frame) continue;
    eden::imaging::DisplayAttributes display = (*object)->info().display;
    display.photometric = frame->photometric;
    (void)eden::imaging::RenderFrame(frame->View(), display, eden::imaging::RenderOptions{});
  }
  return 0;
}
