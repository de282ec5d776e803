// Inputs the fuzzer once crashed, hung or blew up on: each must now give a result (any result)
// promptly, under ASan+UBSan in the asan preset.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "dicom/dcmtk_decoder.h"
#include "imaging/render.h"

namespace eden::dicom {
namespace {

TEST(FuzzRegressions, EveryReproducerIsHandled) {
  const DcmtkDecoder decoder;
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FUZZ_REGRESSIONS_DIR)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto object = decoder.Open(bytes);
    if (object) {
      for (uint32_t i = 0; i < std::min<uint32_t>((*object)->info().number_of_frames, 4); ++i) {
        auto frame = (*object)->DecodeFrame(i);
        if (!frame) continue;
        imaging::DisplayAttributes display = (*object)->info().display;
        display.photometric = frame->photometric;
        (void)imaging::RenderFrame(frame->View(), display, imaging::RenderOptions{});
      }
    }
    ++count;
  }
  EXPECT_GT(count, 0u);
}

}  // namespace
}  // namespace eden::dicom
