// Differentiation rules of the view primitives (all linear): the jvp applies
// the view to the tangent, the vjp applies its transpose to the cotangent.
#include "mfx/mfx.h"
#include "primitives/view.h"

namespace mfx {

namespace {

// Integer and bool arrays carry no derivative.
bool differentiable(const array& a) {
  return is_floating(a.dtype());
}

// Applies `rule` to each requested input of a one-input primitive.
template <typename F>
std::vector<array> per_arg(const array& x, const std::vector<int>& argnums, F&& rule) {
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(differentiable(x) ? rule() : zeros_like(x));
  }
  return res;
}

// `g` (the cotangent of a slice with first index `first` and positive `step`
// along `axis`) placed into zeros of length `len` at first + i * step.
array scatter_strided(array g, int axis, int64_t first, int64_t step, int64_t len) {
  const int64_t n = g.shape()[axis];
  array zero = zeros({}, g.dtype());
  if (step > 1) {
    // Interleave step - 1 zeros after each element, then drop the trailing ones.
    Shape merged = g.shape();
    merged[axis] = n * step;
    std::vector<std::pair<int64_t, int64_t>> widths(g.ndim() + 1, {0, 0});
    widths[axis + 1] = {0, step - 1};
    g = reshape(pad(expand_dims(g, axis + 1), widths, zero), merged);
    g = slice_axis(g, axis, 0, (n - 1) * step + 1);
  }
  std::vector<std::pair<int64_t, int64_t>> widths(g.ndim(), {0, 0});
  widths[axis] = {first, len - first - g.shape()[axis]};
  return pad(g, widths, zero);
}

}  // namespace

std::vector<array> Reshape::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  return per_arg(x, argnums, [&] { return reshape(cts[0], x.shape()); });
}

std::vector<array> Reshape::jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  return {differentiable(x) ? reshape(tangents[0], shape_) : zeros(shape_, x.dtype())};
}

std::vector<array> Transpose::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = static_cast<int>(i);
  return per_arg(x, argnums, [&] { return transpose(cts[0], inverse); });
}

std::vector<array> Transpose::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  return {differentiable(x) ? transpose(tangents[0], axes_) : zeros_like(transpose(x, axes_))};
}

// The transpose of a broadcast sums over the new leading axes and over the
// size-1 axes that were stretched.
std::vector<array> Broadcast::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  return per_arg(x, argnums, [&] {
    const int lead = static_cast<int>(shape_.size()) - x.ndim();
    std::vector<int> axes;
    for (int d = 0; d < static_cast<int>(shape_.size()); ++d) {
      if (d < lead || (x.shape()[d - lead] == 1 && shape_[d] != 1)) axes.push_back(d);
    }
    array g = axes.empty() ? cts[0] : sum(cts[0], axes, /*keepdims=*/true);
    return reshape(astype(g, x.dtype()), x.shape());
  });
}

std::vector<array> Broadcast::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  return {differentiable(x) ? broadcast_to(tangents[0], shape_) : zeros(shape_, x.dtype())};
}

// The transpose of a strided slice writes the cotangent into zeros of the
// input's shape at the sliced positions, one axis at a time (negative steps
// flip the cotangent first, turning them into positive ones).
std::vector<array> Slice::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                              const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  return per_arg(x, argnums, [&] {
    array g = cts[0];
    for (int64_t n : out_shape_) {
      if (n == 0) return zeros_like(x);
    }
    for (int d = 0; d < x.ndim(); ++d) {
      const int64_t n = out_shape_[d];
      int64_t first = start_[d], step = step_[d];
      if (step < 0) {
        g = flip(g, {d});
        first += (n - 1) * step;
        step = -step;
      }
      if (step != 1 || n != x.shape()[d]) g = scatter_strided(g, d, first, step, x.shape()[d]);
    }
    return g;
  });
}

std::vector<array> Slice::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) {
  const array& x = primals[0];
  if (!differentiable(x)) return {zeros(out_shape_, x.dtype())};
  return {array(out_shape_, tangents[0].dtype(), std::make_shared<Slice>(start_, step_, out_shape_),
                {tangents[0]})};
}

}  // namespace mfx
