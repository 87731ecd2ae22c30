// Separable antialiased bilinear resampling of RGB images.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "mfx/coco/data.h"

namespace mfx::coco {

namespace {

// Per output index: the first input index and the normalised weights of the
// inputs it reads. The triangle filter's support grows with the shrink factor
// so every input pixel contributes (no aliasing); enlarging is plain
// bilinear interpolation.
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // max_taps per output
  int max_taps = 0;
};

Taps make_taps(int in, int out) {
  const double scale = static_cast<double>(in) / out;
  const double support = std::max(scale, 1.0);
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(2 * support)) + 2;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.max_taps, 0.f);
  std::vector<double> ws(t.max_taps);
  for (int i = 0; i < out; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(std::floor(center - support)));
    const int hi = std::min({in, static_cast<int>(std::ceil(center + support)), lo + t.max_taps});
    double total = 0;
    for (int j = lo; j < hi; ++j) {
      ws[j - lo] = std::max(0.0, 1.0 - std::abs((j + 0.5 - center) / support));
      total += ws[j - lo];
    }
    // The input pixel nearest the centre always has a positive weight.
    t.first[i] = lo;
    t.count[i] = hi - lo;
    for (int j = 0; j < hi - lo; ++j) {
      t.weights[static_cast<size_t>(i) * t.max_taps + j] = static_cast<float>(ws[j] / total);
    }
  }
  return t;
}

}  // namespace

RgbImage resize_image(const RgbImage& img, int h, int w) {
  if (img.h <= 0 || img.w <= 0 || h <= 0 || w <= 0) {
    throw std::invalid_argument(fmt::format(
        "[coco::resize_image] sizes must be positive, got {}x{} -> {}x{}", img.h, img.w, h, w));
  }
  if (h == img.h && w == img.w) return img;
  const Taps tx = make_taps(img.w, w), ty = make_taps(img.h, h);
  // Horizontal pass into floats [img.h, w, 3], then vertical pass.
  std::vector<float> tmp(static_cast<size_t>(img.h) * w * 3);
  for (int y = 0; y < img.h; ++y) {
    const uint8_t* row = img.at(y, 0);
    float* o = tmp.data() + static_cast<size_t>(y) * w * 3;
    for (int x = 0; x < w; ++x) {
      const float* wt = tx.weights.data() + static_cast<size_t>(x) * tx.max_taps;
      float acc[3] = {0, 0, 0};
      for (int k = 0; k < tx.count[x]; ++k) {
        const uint8_t* p = row + static_cast<size_t>(tx.first[x] + k) * 3;
        acc[0] += wt[k] * p[0], acc[1] += wt[k] * p[1], acc[2] += wt[k] * p[2];
      }
      o[x * 3] = acc[0], o[x * 3 + 1] = acc[1], o[x * 3 + 2] = acc[2];
    }
  }
  RgbImage out(h, w);
  std::vector<float> acc(static_cast<size_t>(w) * 3);
  for (int y = 0; y < h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const float* wt = ty.weights.data() + static_cast<size_t>(y) * ty.max_taps;
    for (int k = 0; k < ty.count[y]; ++k) {
      const float* src = tmp.data() + static_cast<size_t>(ty.first[y] + k) * w * 3;
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += wt[k] * src[i];
    }
    uint8_t* o = out.at(y, 0);
    for (size_t i = 0; i < acc.size(); ++i) {
      o[i] = static_cast<uint8_t>(std::clamp(std::lround(acc[i]), 0L, 255L));
    }
  }
  return out;
}

}  // namespace mfx::coco
