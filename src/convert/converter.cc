#include "convert/converter.h"

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "imaging/resize.h"

namespace eden::convert {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Converter::Converter(const dicom::DicomDecoder& decoder, std::unique_ptr<jpeg::JpegEncoder> encoder)
    : decoder_(decoder), encoder_(std::move(encoder)) {}

Result<Conversion> Converter::Convert(std::span<const uint8_t> dicom_bytes, const ConvertOptions& options) {
  Conversion result;
  auto t0 = Clock::now();
  auto object = decoder_.Open(dicom_bytes);
  if (!object) return Fail(object.error());
  result.info = (*object)->info();
  result.times.decode_ms += MsSince(t0);

  uint32_t first = options.frame;
  uint32_t last = options.frame;
  if (options.all_frames) {
    first = 0;
    last = result.info.number_of_frames - 1;
  } else if (options.frame >= result.info.number_of_frames) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("frame {} requested, the image has {}", options.frame + 1, result.info.number_of_frames));
  }

  if (options.max_size > 0 && !options.full_decode) (*object)->PreferReducedFrames(options.max_size);
  for (uint32_t index = first; index <= last; ++index) {
    t0 = Clock::now();
    auto frame = (*object)->DecodeFrame(index);
    result.times.decode_ms += MsSince(t0);
    if (!frame) return Fail(frame.error());

    t0 = Clock::now();
    imaging::DisplayAttributes display = result.info.display;
    display.photometric = frame->photometric;
    ConvertedFrame out;
    out.frame = index;
    auto image = imaging::RenderFrame(frame->View(), display, options.render, &out.render);
    if (!image) return Fail(image.error().WithContext(fmt::format("frame {}", index + 1)));
    *frame = dicom::DecodedFrame{};  // Release the samples now: keeps the peak low on large frames.
    if (options.max_size > 0) *image = imaging::DownscaleToFit(*image, options.max_size);
    result.times.render_ms += MsSince(t0);

    t0 = Clock::now();
    auto jpeg = encoder_->Encode(*image, jpeg::EncodeOptions{options.quality});
    result.times.encode_ms += MsSince(t0);
    if (!jpeg) return Fail(jpeg.error());
    out.width = image->width;
    out.height = image->height;
    out.channels = image->channels;
    out.jpeg = std::move(*jpeg);
    result.frames.push_back(std::move(out));
  }
  return result;
}

Result<imaging::Window> ParseWindow(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("window '{}' is not CENTER/WIDTH", text));
  }
  const std::string c = text.substr(0, slash);
  const std::string w = text.substr(slash + 1);
  char* end = nullptr;
  const double centre = std::strtod(c.c_str(), &end);
  if (c.empty() || *end != '\0')
    return Fail(ErrorCode::kInvalidArgument, fmt::format("window centre '{}' is not a number", c));
  const double width = std::strtod(w.c_str(), &end);
  if (w.empty() || *end != '\0')
    return Fail(ErrorCode::kInvalidArgument, fmt::format("window width '{}' is not a number", w));
  if (width < 1) return Fail(ErrorCode::kInvalidArgument, fmt::format("window width {} must be at least 1", width));
  return imaging::Window{centre, width, imaging::VoiFunction::kLinear};
}

}  // namespace eden::convert
