// Per-stage timings of the conversion engine, and the limit for its encode stage: libjpeg-turbo
// (tjCompress2) alone on the same 8-bit pixels with the same settings, timed in the same run.
// Usage: stage_bench [--reps N] FILE...   Prints one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <turbojpeg.h>

#include "convert/converter.h"
#include "dicom/dcmtk_decoder.h"
#include "imaging/render.h"
#include "jpeg/turbojpeg_encoder.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

int main(int argc, char** argv) {
  int reps = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      files.emplace_back(argv[i]);
    }
  }
  const eden::dicom::DcmtkDecoder decoder;
  eden::convert::Converter converter(decoder, eden::jpeg::MakeTurboJpegEncoder());
  auto encoder = eden::jpeg::MakeTurboJpegEncoder();
  tjhandle tj = tjInitCompress();
  double decode = 0, render = 0, encode = 0, ours_encode = 0, raw_encode = 0, megapixels = 0;
  size_t images = 0;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto c = converter.Convert(bytes, {});
    if (!c) continue;
    decode += c->times.decode_ms;
    render += c->times.render_ms;
    encode += c->times.encode_ms;
    ++images;
    megapixels += c->info.format.rows * double(c->info.format.cols) / 1e6;

    // The same 8-bit image again, then the two encoders side by side, best of `reps`.
    auto object = decoder.Open(bytes);
    auto frame = (*object)->DecodeFrame(0);
    auto display = (*object)->info().display;
    display.photometric = frame->photometric;
    auto image = eden::imaging::RenderFrame(frame->View(), display, {});
    double best_ours = 1e18, best_raw = 1e18;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      auto jpeg = encoder->Encode(*image, {100});
      auto t1 = Clock::now();
      unsigned char* out = nullptr;
      unsigned long size = 0;
      tjCompress2(tj, image->pixels.data(), int(image->width), 0, int(image->height),
                  image->channels == 1 ? TJPF_GRAY : TJPF_RGB, &out, &size,
                  image->channels == 1 ? TJSAMP_GRAY : TJSAMP_444, 100, 0);
      auto t2 = Clock::now();
      tjFree(out);
      best_ours = std::min(best_ours, Ms(t0, t1));
      best_raw = std::min(best_raw, Ms(t1, t2));
    }
    ours_encode += best_ours;
    raw_encode += best_raw;
  }
  tjDestroy(tj);
  std::printf(
      "{\"images\": %zu, \"megapixels\": %.3f, \"decode_ms\": %.2f, \"render_ms\": %.2f, \"encode_ms\": %.2f, "
      "\"encode_stage_ms\": %.2f, \"libjpeg_turbo_encode_only_ms\": %.2f}\n",
      images, megapixels, decode, render, encode, ours_encode, raw_encode);
  return images > 0 ? 0 : 1;
}
