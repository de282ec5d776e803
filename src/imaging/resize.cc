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

}  // namespace

Image8 DownscaleToFit(const Image8& image, uint32_t max_side) {
  const uint32_t longer = std::max(image.width, image.height);
  if (max_side == 0 || longer <= max_side) return image;
  const double ratio = static_cast<double>(max_side) / longer;
  const uint32_t out_w = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(image.width * ratio)));
  const uint32_t out_h = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(image.height * ratio)));
  const uint32_t ch = image.channels;

  // Horizontal pass into float rows, then vertical pass into bytes.
  // Each input row is converted to float once (not once a tap), and greyscale rows take a loop
  // without the channel stride; the sums are the same, in the same order: the same output.
  const Taps tx = ComputeTaps(image.width, out_w);
  std::vector<float> mid(size_t{out_w} * image.height * ch);
  std::vector<float> in_row(size_t{image.width} * ch + tx.stride, 0.0f);  // + zero padding (greyscale taps)
  std::vector<float> weights_by_tap;
  if (ch == 1) {
    weights_by_tap.assign(size_t{tx.stride} * out_w, 0.0f);
    for (uint32_t x = 0; x < out_w; ++x) {
      for (uint32_t k = 0; k < tx.count[x]; ++k) {
        weights_by_tap[size_t{k} * out_w + x] = tx.weights[size_t{x} * tx.stride + k];
      }
    }
  }
  for (uint32_t y = 0; y < image.height; ++y) {
    const uint8_t* row = image.pixels.data() + size_t{y} * image.width * ch;
    for (size_t i = 0; i < size_t{image.width} * ch; ++i) in_row[i] = row[i];
    float* out_row = mid.data() + size_t{y} * out_w * ch;
    if (ch == 1) {
      // Tap by tap across the whole output row: every output's sum is an independent chain the
      // CPU overlaps, where one output at a time waited on each multiply-add in turn. Taps past
      // an output's count have weight 0 and read the zero padding: the same sums, same order.
      std::fill(out_row, out_row + out_w, 0.0f);
      for (uint32_t k = 0; k < tx.stride; ++k) {
        const float* w = weights_by_tap.data() + size_t{k} * out_w;
        for (uint32_t x = 0; x < out_w; ++x) out_row[x] += w[x] * in_row[tx.first[x] + k];
      }
      continue;
    }
    for (uint32_t x = 0; x < out_w; ++x) {
      const float* w = tx.weights.data() + size_t{x} * tx.stride;
      for (uint32_t c = 0; c < ch; ++c) {
        float acc = 0.0f;
        for (uint32_t k = 0; k < tx.count[x]; ++k) acc += w[k] * in_row[(size_t{tx.first[x]} + k) * ch + c];
        out_row[size_t{x} * ch + c] = acc;
      }
    }
  }
  const Taps ty = ComputeTaps(image.height, out_h);
  Image8 out{out_w, out_h, image.channels, Bytes(size_t{out_w} * out_h * ch)};
  const size_t row_len = size_t{out_w} * ch;
  std::vector<float> acc(row_len);
  for (uint32_t y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* w = ty.weights.data() + size_t{y} * ty.stride;
    for (uint32_t k = 0; k < ty.count[y]; ++k) {
      const float* src = mid.data() + (size_t{ty.first[y]} + k) * row_len;
      for (size_t i = 0; i < row_len; ++i) acc[i] += w[k] * src[i];
    }
    uint8_t* dst = out.pixels.data() + size_t{y} * row_len;
    for (size_t i = 0; i < row_len; ++i) dst[i] = Clamp8(acc[i]);
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
