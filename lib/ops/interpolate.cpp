// interpolate: source indices and weights are computed on the host with
// PyTorch's formulas (in float, or double for float64 inputs, as PyTorch's
// CPU kernels do), then applied with take along H and W and a lerp.
#include <algorithm>
#include <cmath>

#include "mfx/nn.h"
#include "ops/op_utils.h"

namespace mfx {

namespace {

// PyTorch 'nearest': src = min(floor(dst * (in / out)), in - 1), scale in float.
array nearest_indices(int64_t in, int64_t out) {
  std::vector<int64_t> idx(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    idx[d] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
  }
  return array(idx, {out}, int64);
}

// PyTorch's linear source index: i0, i1 = i0 + (i0 < in - 1), weight of i1.
template <typename A>
void linear_taps(int64_t in, int64_t out, bool align_corners, std::vector<int64_t>& i0,
                 std::vector<int64_t>& i1, std::vector<double>& w1) {
  A scale;
  if (align_corners) {
    scale = out > 1 ? static_cast<A>(in - 1) / static_cast<A>(out - 1) : A(0);
  } else {
    scale = static_cast<A>(in) / static_cast<A>(out);
  }
  i0.resize(out);
  i1.resize(out);
  w1.resize(out);
  for (int64_t d = 0; d < out; ++d) {
    A src = align_corners ? scale * static_cast<A>(d)
                          : std::max(scale * (static_cast<A>(d) + A(0.5)) - A(0.5), A(0));
    int64_t lo = std::min(static_cast<int64_t>(src), in - 1);
    i0[d] = lo;
    i1[d] = lo + (lo < in - 1 ? 1 : 0);
    w1[d] = static_cast<double>(std::clamp(src - static_cast<A>(lo), A(0), A(1)));
  }
}

}  // namespace

array interpolate(const array& x, Pair size, InterpolateMode mode, bool align_corners) {
  check_valid(x, "interpolate");
  if (x.ndim() != 4) {
    throw std::invalid_argument(
        fmt::format("[interpolate] expected input [N,C,H,W], got shape {}", shape_str(x.shape())));
  }
  const int64_t h = x.shape()[2], w = x.shape()[3];
  const auto [ho, wo] = size;
  if (ho < 1 || wo < 1 || h < 1 || w < 1) {
    throw std::invalid_argument(fmt::format(
        "[interpolate] input spatial size ({},{}) and output size ({},{}) must be positive "
        "(input shape {})",
        h, w, ho, wo, shape_str(x.shape())));
  }
  if (mode == InterpolateMode::nearest) {
    if (align_corners) {
      throw std::invalid_argument(
          "[interpolate] align_corners can only be set with the bilinear mode");
    }
    array y = ho == h ? x : take(x, nearest_indices(h, ho), 2);
    return wo == w ? y : take(y, nearest_indices(w, wo), 3);
  }
  const Dtype out_t = to_floating(x.dtype());
  if (ho == h && wo == w) return astype(x, out_t);  // both formulas map dst to itself
  // Halves blend in float32 and round once, like PyTorch's opmath.
  const Dtype t = (out_t == float16 || out_t == bfloat16) ? float32 : out_t;
  array xf = astype(x, t);
  std::vector<int64_t> h0, h1, w0, w1;
  std::vector<double> lh, lw;
  if (t == float64) {
    linear_taps<double>(h, ho, align_corners, h0, h1, lh);
    linear_taps<double>(w, wo, align_corners, w0, w1, lw);
  } else {
    linear_taps<float>(h, ho, align_corners, h0, h1, lh);
    linear_taps<float>(w, wo, align_corners, w0, w1, lw);
  }
  // Along H: rows i0 and i1 blended with weights (1 - l, l) as [Ho, 1].
  array top = take(xf, array(h0, {ho}, int64), 2);
  array bottom = take(xf, array(h1, {ho}, int64), 2);
  array wh(lh, {ho, 1}, t);
  array rows = add(top, multiply(wh, subtract(bottom, top)));
  array left = take(rows, array(w0, {wo}, int64), 3);
  array right = take(rows, array(w1, {wo}, int64), 3);
  array ww(lw, {wo}, t);
  return astype(add(left, multiply(ww, subtract(right, left))), out_t);
}

}  // namespace mfx
