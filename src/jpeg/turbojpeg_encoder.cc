#include <turbojpeg.h>

#include <memory>

#include <fmt/format.h>

#include "jpeg/turbojpeg_encoder.h"

namespace eden::jpeg {
namespace {

class TurboJpegEncoder final : public JpegEncoder {
 public:
  TurboJpegEncoder() : handle_(tjInitCompress()) {}
  ~TurboJpegEncoder() override {
    if (handle_) tjDestroy(handle_);
  }
  TurboJpegEncoder(const TurboJpegEncoder&) = delete;
  TurboJpegEncoder& operator=(const TurboJpegEncoder&) = delete;

  Result<std::vector<uint8_t>> Encode(const imaging::Image8& image, const EncodeOptions& options) override {
    if (!handle_) return Fail(ErrorCode::kInternal, "libjpeg-turbo failed to initialise");
    if (options.quality < 1 || options.quality > 100) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("JPEG quality {} outside 1..100", options.quality));
    }
    if (image.channels != 1 && image.channels != 3) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("{} channels", image.channels));
    }
    if (image.width == 0 || image.height == 0 || image.width > 65500 || image.height > 65500 ||
        image.pixels.size() < size_t{image.width} * image.height * image.channels) {
      return Fail(ErrorCode::kInvalidArgument, "image size not encodable as JPEG");
    }
    const int format = image.channels == 1 ? TJPF_GRAY : TJPF_RGB;
    const int subsampling = image.channels == 1 ? TJSAMP_GRAY : (options.quality >= 90 ? TJSAMP_444 : TJSAMP_420);
    // Encode into a worst-case buffer that is never zeroed (libjpeg-turbo writes before it reads)
    // and comes from the reused, huge-page backed large blocks (Bytes: no ~2,000 page faults a
    // radiograph), then keep a copy of the exact size: a queued JPEG holds its ~2.6 MB, not the
    // ~8 MB worst case.
    unsigned long size = tjBufSize(static_cast<int>(image.width), static_cast<int>(image.height), subsampling);
    Bytes scratch(size);
    unsigned char* out = scratch.data();
    const int rc =
        tjCompress2(handle_, image.pixels.data(), static_cast<int>(image.width), 0, static_cast<int>(image.height),
                    format, &out, &size, subsampling, options.quality, TJFLAG_NOREALLOC);
    if (rc != 0) return Fail(ErrorCode::kInternal, fmt::format("JPEG encoding failed: {}", tjGetErrorStr2(handle_)));
    return std::vector<uint8_t>(out, out + size);
  }

 private:
  tjhandle handle_;
};

}  // namespace

std::unique_ptr<JpegEncoder> MakeTurboJpegEncoder() { return std::make_unique<TurboJpegEncoder>(); }

}  // namespace eden::jpeg
