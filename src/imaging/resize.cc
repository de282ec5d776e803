#include "imaging/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

namespace eden::imaging {
namespace {

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  const double px = std::numbers::pi * x;
  return std::sin(px) / px;
}

double Lanczos3(double x) { return (x > -3.0 && x < 3.0) ? Sinc(x) * Sinc(x / 3.0) : 0.0; }

/// Precomputed filter taps for one axis: for each output index, the first input index and the
/// normalised weights.
struct Taps {
  std::vector<uint32_t> first;
  std::vector<uint32_t> count;
  std::vector<float> weights;  // count.max() per output, row-major.
  uint32_t stride = 0;
};

Taps ComputeTaps(uint32_t in_size, uint32_t out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double support = 3.0 * std::max(1.0, scale);
  Taps t;
  t.stride = static_cast<uint32_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(size_t{out_size} * t.stride, 0.0f);
  const double filter_scale = 1.0 / std::max(1.0, scale);
  std::vector<double> w;
  w.reserve(t.stride);
  for (uint32_t o = 0; o < out_size; ++o) {
    const double centre = (o + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(centre - support + 0.5));
    const int64_t hi = std::min<int64_t>(in_size, static_cast<int64_t>(centre + support + 0.5));
    double total = 0.0;
    w.clear();
    for (int64_t i = lo; i < hi && w.size() < t.stride; ++i) {
      w.push_back(Lanczos3((i - centre + 0.5) * filter_scale));
      total += w.back();
    }
    t.first[o] = static_cast<uint32_t>(lo);
    t.count[o] = static_cast<uint32_t>(w.size());
    for (size_t k = 0; k < w.size(); ++k) {
      t.weights[size_t{o} * t.stride + k] = static_cast<float>(total != 0.0 ? w[k] / total : 0.0);
    }
  }
  return t;
}

uint8_t Clamp8(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v + 0.5f);
}

// The vertical pass's loop is also compiled for AVX2 (8 floats a step where the baseline x86-64
// build has SSE2's 4), the variant picked once at load time. AVX2 alone brings no fused
// multiply-add (that is the separate FMA extension, and the build does not contract a * b + c):
// each output is the same sum in the same order, the same bytes, on every CPU. (The horizontal
// pass is not: its AVX2 variant's gathers made it slower, 29% -> 31% of a --max-size 1024 JPEG
// baseline conversion on this AMD CPU.)
// Not under a sanitizer: the variant is picked by an ifunc resolver that runs while the program
// is relocated, before ThreadSanitizer's runtime is up (its instrumented resolver crashed there).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__SANITIZE_ADDRESS__)
#define EDEN_ALSO_FOR_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define EDEN_ALSO_FOR_AVX2
#endif

/// out[x] += Σ_k weights_by_tap[k][x] * in[first[x] + k], tap by tap across the row: every
/// output's sum is an independent chain the CPU overlaps.
void AccumulateTaps(float* out, const float* weights_by_tap, const uint32_t* first, const float* in, uint32_t out_w,
                    uint32_t taps) {
  for (uint32_t k = 0; k < taps; ++k) {
    const float* w = weights_by_tap + size_t{k} * out_w;
    for (uint32_t x = 0; x < out_w; ++x) out[x] += w[x] * in[first[x] + k];
  }
}

/// acc[i] += w * src[i].
EDEN_ALSO_FOR_AVX2 void AccumulateRow(float* acc, const uint8_t* src, float w, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += w * static_cast<float>(src[i]);
}

}  // namespace

Image8 DownscaleToFit(const Image8& image, uint32_t max_side) {
  const uint32_t longer = std::max(image.width, image.height);
  if (max_side == 0 || longer <= max_side) return image;
  const double ratio = static_cast<double>(max_side) / longer;
  const uint32_t out_w = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(image.width * ratio)));
  const uint32_t out_h = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(image.height * ratio)));
  const uint32_t ch = image.channels;

  // One output row at a time: the vertical pass sums its input rows (contiguous bytes, 8 a step
  // with AVX2) into one float row, then the horizontal pass sums that row's taps into the output.
  // Vertical first: the horizontal pass (a gathered load a tap) runs on out_h rows, not on every
  // input row (-32% of its work at 3000x2500 -> 1024), and no whole float image is kept between
  // the passes. Greyscale and colour sum each output in the same order: the same bytes.
  const Taps tx = ComputeTaps(image.width, out_w);
  const Taps ty = ComputeTaps(image.height, out_h);
  const size_t in_len = size_t{image.width} * ch;
  const size_t out_len = size_t{out_w} * ch;
  std::vector<float> column_sums(in_len + tx.stride, 0.0f);  // + zero padding (greyscale taps)
  std::vector<float> row_sums(out_len);
  std::vector<float> weights_by_tap;
  if (ch == 1) {
    weights_by_tap.assign(size_t{tx.stride} * out_w, 0.0f);
    for (uint32_t x = 0; x < out_w; ++x) {
      for (uint32_t k = 0; k < tx.count[x]; ++k) {
        weights_by_tap[size_t{k} * out_w + x] = tx.weights[size_t{x} * tx.stride + k];
      }
    }
  }
  Image8 out{out_w, out_h, image.channels, Bytes(out_len * out_h)};
  for (uint32_t y = 0; y < out_h; ++y) {
    std::fill_n(column_sums.begin(), in_len, 0.0f);
    const float* wy = ty.weights.data() + size_t{y} * ty.stride;
    for (uint32_t k = 0; k < ty.count[y]; ++k) {
      AccumulateRow(column_sums.data(), image.pixels.data() + (size_t{ty.first[y]} + k) * in_len, wy[k], in_len);
    }
    if (ch == 1) {
      // Tap by tap across the whole output row: every output's sum is an independent chain the
      // CPU overlaps, where one output at a time waited on each multiply-add in turn. Taps past
      // an output's count have weight 0 and read the zero padding: the same sums, same order.
      std::fill(row_sums.begin(), row_sums.end(), 0.0f);
      AccumulateTaps(row_sums.data(), weights_by_tap.data(), tx.first.data(), column_sums.data(), out_w, tx.stride);
    } else {
      for (uint32_t x = 0; x < out_w; ++x) {
        const float* wx = tx.weights.data() + size_t{x} * tx.stride;
        for (uint32_t c = 0; c < ch; ++c) {
          float acc = 0.0f;
          for (uint32_t k = 0; k < tx.count[x]; ++k) acc += wx[k] * column_sums[(size_t{tx.first[x]} + k) * ch + c];
          row_sums[size_t{x} * ch + c] = acc;
        }
      }
    }
    uint8_t* dst = out.pixels.data() + size_t{y} * out_len;
    for (size_t i = 0; i < out_len; ++i) dst[i] = Clamp8(row_sums[i]);
  }
  return out;
}

uint32_t ReductionLevels(uint32_t rows, uint32_t cols, uint32_t min_longest_side, uint32_t max_levels) {
  if (min_longest_side == 0) return 0;
  const uint32_t longest = std::max(rows, cols);
  uint32_t levels = 0;
  while (levels < max_levels && levels + 1 < 31 &&
         ((longest + (1u << (levels + 1)) - 1) >> (levels + 1)) >= min_longest_side) {
    ++levels;
  }
  return levels;
}

bool CanBoxReduce(const PixelFormat& f) {
  return f.samples_per_pixel == 1 && (f.bits_allocated == 8 || f.bits_allocated == 16) && f.bits_stored >= 1 &&
         f.bits_stored <= f.bits_allocated && f.high_bit + 1 == f.bits_stored && !f.planar;
}

namespace {

/// BoxReduce for one cell type: sums each output row's block of input rows into one accumulator
/// a column, then divides by the block's size.
template <typename Cell>
void BoxReduceCells(const FrameView& frame, uint32_t levels, uint32_t out_rows, uint32_t out_cols, Cell* out) {
  const PixelFormat& f = frame.format;
  const uint32_t block = 1u << levels;
  const uint32_t mask = (1u << f.bits_stored) - 1;
  // Sign extension without a branch: (v ^ s) - s with s the sign bit (0 for unsigned values).
  const int32_t flip = f.is_signed ? static_cast<int32_t>(1u << (f.bits_stored - 1)) : 0;
  const uint8_t* in = frame.bytes.data();
  std::vector<int64_t> sums(out_cols);
  for (uint32_t oy = 0; oy < out_rows; ++oy) {
    std::fill(sums.begin(), sums.end(), 0);
    const uint32_t y0 = oy << levels;
    const uint32_t y1 = std::min(f.rows, y0 + block);
    for (uint32_t y = y0; y < y1; ++y) {
      const uint8_t* row = in + size_t{y} * f.cols * sizeof(Cell);
      for (uint32_t x = 0; x < f.cols; ++x) {
        Cell cell;
        std::memcpy(&cell, row + size_t{x} * sizeof(Cell), sizeof cell);  // The view may be unaligned.
        const auto raw = static_cast<int32_t>(static_cast<uint32_t>(cell) & mask);
        sums[x >> levels] += (raw ^ flip) - flip;
      }
    }
    for (uint32_t ox = 0; ox < out_cols; ++ox) {
      const uint32_t x0 = ox << levels;
      const int64_t count = int64_t{std::min(f.cols, x0 + block) - x0} * (y1 - y0);
      const int64_t s = sums[ox];
      // Round half away from zero, so signed values are symmetric about zero.
      const int64_t mean = s >= 0 ? (s + count / 2) / count : -((-s + count / 2) / count);
      out[size_t{oy} * out_cols + ox] = static_cast<Cell>(mean);
    }
  }
}

}  // namespace

ReducedFrame BoxReduce(const FrameView& frame, uint32_t levels) {
  const PixelFormat& f = frame.format;
  ReducedFrame out;
  out.format = f;
  out.format.rows = (f.rows + (1u << levels) - 1) >> levels;
  out.format.cols = (f.cols + (1u << levels) - 1) >> levels;
  out.bytes.resize(out.format.FrameBytes());  // Bytes: every cell written below.
  if (f.bits_allocated == 8) {
    BoxReduceCells<uint8_t>(frame, levels, out.format.rows, out.format.cols, out.bytes.data());
  } else {
    BoxReduceCells<uint16_t>(frame, levels, out.format.rows, out.format.cols,
                             reinterpret_cast<uint16_t*>(out.bytes.data()));
  }
  return out;
}

}  // namespace eden::imaging
