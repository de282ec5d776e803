#include "dicom/turbojpeg_codec.h"

#include <turbojpeg.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

namespace eden::dicom {

Result<ScaledJpegFrame> DecodeJpegScaled(std::span<const uint8_t> codestream, uint32_t rows, uint32_t cols,
                                         uint32_t min_longest_side) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) return Fail(ErrorCode::kInternal, "tjInitDecompress failed");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto* data = const_cast<unsigned char*>(codestream.data());  // TurboJPEG 2.1 takes non-const.
  const auto size = static_cast<unsigned long>(codestream.size());
  if (tjDecompressHeader3(handle.get(), data, size, &width, &height, &subsampling, &colorspace) != 0) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG header: {}", tjGetErrorStr2(handle.get())));
  }
  if (colorspace != TJCS_GRAY) return Fail(ErrorCode::kUnsupported, "not a greyscale JPEG");
  if (static_cast<uint32_t>(width) != cols || static_cast<uint32_t>(height) != rows) {
    return Fail(ErrorCode::kCorruptPixelData,
                fmt::format("JPEG says {}x{}, the DICOM attributes {}x{}", width, height, cols, rows));
  }
  // libjpeg-turbo scales by M/8 in the IDCT; the smallest that still reaches the target.
  int factors_count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&factors_count);
  tjscalingfactor chosen{1, 1};
  const int longest = std::max(width, height);
  for (int i = 0; i < factors_count; ++i) {
    const tjscalingfactor f = factors[i];
    // Reductions down to 1/2 only (the list has 1/2 as {1, 2}, 3/8 as {3, 8}, enlargements
    // too): at 1/4 and below the IDCT keeps too few coefficients, and some radiographs end
    // below 38 dB of full decode + resize (34.1 dB at 512, bench/RESULTS.md)...
    if (f.num >= f.denom || 8 % f.denom != 0 || 2 * f.num < f.denom) continue;
    // ...that divide both sides exactly: the reduced frame keeps the aspect ratio, so the final
    // resize gives the same size as from the full frame.
    if ((width * f.num) % f.denom != 0 || (height * f.num) % f.denom != 0) continue;
    if (static_cast<uint32_t>(TJSCALED(longest, f)) < min_longest_side) continue;
    if (f.num * chosen.denom < chosen.num * f.denom) chosen = f;
  }
  ScaledJpegFrame out;
  out.cols = static_cast<uint32_t>(TJSCALED(width, chosen));
  out.rows = static_cast<uint32_t>(TJSCALED(height, chosen));
  out.bytes.resize(size_t{out.rows} * out.cols);
  if (tjDecompress2(handle.get(), data, size, out.bytes.data(), static_cast<int>(out.cols), 0,
                    static_cast<int>(out.rows), TJPF_GRAY, 0) != 0 &&
      tjGetErrorCode(handle.get()) == TJERR_FATAL) {
    return Fail(ErrorCode::kCorruptPixelData, fmt::format("JPEG: {}", tjGetErrorStr2(handle.get())));
  }
  return out;
}

}  // namespace eden::dicom
