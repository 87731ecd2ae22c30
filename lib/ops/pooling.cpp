// max_pool2d through the MaxPool2d primitive (primitives/pooling.h);
// avg_pool2d as a composite: one strided slice of the padded input per
// kernel offset, summed. Kernels are small (2x2, 3x3), so this is kH*kW
// elementwise passes over the output.
#include <limits>

#include "mfx/nn.h"
#include "ops/op_utils.h"
#include "primitives/pooling.h"

namespace mfx {

namespace {

struct PoolGeometry {
  int64_t h, w, ho, wo;
  Pair k, s, p;
};

// Validates PyTorch's pooling constraints (floor mode) on [N,C,H,W] or [C,H,W].
PoolGeometry pool_geometry(const array& x, Pair kernel, std::optional<Pair> stride, Pair padding,
                           const char* op) {
  check_valid(x, op);
  if (x.ndim() != 3 && x.ndim() != 4) {
    throw std::invalid_argument(fmt::format(
        "[{}] expected input [N,C,H,W] or [C,H,W], got shape {}", op, shape_str(x.shape())));
  }
  Pair s = stride.value_or(kernel);
  auto str = [](Pair p) { return fmt::format("({},{})", p.first, p.second); };
  if (kernel.first < 1 || kernel.second < 1 || s.first < 1 || s.second < 1) {
    throw std::invalid_argument(
        fmt::format("[{}] kernel {} and stride {} must be positive", op, str(kernel), str(s)));
  }
  if (padding.first < 0 || padding.second < 0 || 2 * padding.first > kernel.first ||
      2 * padding.second > kernel.second) {
    throw std::invalid_argument(
        fmt::format("[{}] padding {} must be non-negative and at most half of the kernel {}", op,
                    str(padding), str(kernel)));
  }
  const int64_t h = x.shape(-2), w = x.shape(-1);
  const int64_t eh = h + 2 * padding.first - kernel.first,
                ew = w + 2 * padding.second - kernel.second;
  if (eh < 0 || ew < 0) {
    throw std::invalid_argument(fmt::format(
        "[{}] kernel {} is larger than the padded input ({},{}) of input {}", op, str(kernel),
        h + 2 * padding.first, w + 2 * padding.second, shape_str(x.shape())));
  }
  return {h, w, eh / s.first + 1, ew / s.second + 1, kernel, s, padding};
}

array pad_hw(const array& x, Pair p, const array& value) {
  std::vector<std::pair<int64_t, int64_t>> widths(x.ndim(), {0, 0});
  widths[x.ndim() - 2] = {p.first, p.first};
  widths[x.ndim() - 1] = {p.second, p.second};
  return pad(x, widths, value);
}

// The window element at kernel offset (i, j) for every output position.
array window(const array& padded, const PoolGeometry& g, int64_t i, int64_t j) {
  const int nd = padded.ndim();
  Shape start(nd, 0), stop(padded.shape()), step(nd, 1);
  start[nd - 2] = i;
  start[nd - 1] = j;
  stop[nd - 2] = i + g.s.first * (g.ho - 1) + 1;
  stop[nd - 1] = j + g.s.second * (g.wo - 1) + 1;
  step[nd - 2] = g.s.first;
  step[nd - 1] = g.s.second;
  return slice(padded, start, stop, step);
}

}  // namespace

array max_pool2d(const array& x, Pair kernel, std::optional<Pair> stride, Pair padding) {
  PoolGeometry g = pool_geometry(x, kernel, stride, padding, "max_pool2d");
  if (g.h * g.w > std::numeric_limits<int32_t>::max()) {
    // The argmax (for the gradient) is an int32 index into one plane.
    throw std::invalid_argument(fmt::format(
        "[max_pool2d] planes of {} x {} elements in input {} exceed the int32 index range",
        g.h, g.w, shape_str(x.shape())));
  }
  if (x.ndim() == 3) return squeeze(max_pool2d(expand_dims(x, 0), kernel, stride, padding), {0});
  return max_pool2d_with_argmax(x, g.k, g.s, g.p).first;
}

array avg_pool2d(const array& x, Pair kernel, std::optional<Pair> stride, Pair padding,
                 bool count_include_pad) {
  PoolGeometry g = pool_geometry(x, kernel, stride, padding, "avg_pool2d");
  // Integers average in float32; halves accumulate in float32 like PyTorch.
  const Dtype out_t = to_floating(x.dtype());
  const Dtype acc_t = (out_t == float16 || out_t == bfloat16) ? float32 : out_t;
  array padded = pad_hw(astype(x, acc_t), g.p, array(0.0f));
  array total = window(padded, g, 0, 0);
  for (int64_t i = 0; i < g.k.first; ++i) {
    for (int64_t j = 0; j < g.k.second; ++j) {
      if (i != 0 || j != 0) total = add(total, window(padded, g, i, j));
    }
  }
  array divisor(static_cast<double>(g.k.first * g.k.second), acc_t);
  if (!count_include_pad && (g.p.first > 0 || g.p.second > 0)) {
    // Per output position, the number of window elements inside the input.
    auto counts = [](int64_t n_out, int64_t n_in, int64_t k, int64_t s, int64_t p) {
      std::vector<double> c(n_out);
      for (int64_t o = 0; o < n_out; ++o) {
        int64_t lo = o * s - p, hi = lo + k;
        c[o] = static_cast<double>(std::min(hi, n_in) - std::max<int64_t>(lo, 0));
      }
      return c;
    };
    array ch(counts(g.ho, g.h, g.k.first, g.s.first, g.p.first), {g.ho, 1}, acc_t);
    array cw(counts(g.wo, g.w, g.k.second, g.s.second, g.p.second), {g.wo}, acc_t);
    divisor = multiply(ch, cw);
  }
  return astype(divide(total, divisor), out_t);
}

}  // namespace mfx
