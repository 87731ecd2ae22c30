// Differentiation rules of the reduction primitives. Reduce keeps reduced
// axes as size 1, so cotangents broadcast straight back to the input shape.
#include "mfx/mfx.h"
#include "primitives/creation.h"
#include "primitives/reduction.h"

namespace mfx {

namespace {

bool differentiable(const array& a) {
  return is_floating(a.dtype());
}

Shape keep_shape(Shape shape, const std::vector<int>& axes) {
  for (int a : axes) shape[a] = 1;
  return shape;
}

// d prod(x) / dx_i = product of the other elements of its group, computed
// without dividing by zero: with one zero in the group only that element
// gets the product of the rest; with two or more every partial is zero.
array prod_partials(const array& x, const std::vector<int>& axes) {
  array zero = zeros_like(x);
  array is_zero = equal(x, zero);
  array safe = where(is_zero, ones_like(x), x);
  array p_safe = prod(safe, axes, /*keepdims=*/true);
  array n_zero = sum(astype(is_zero, x.dtype()), axes, /*keepdims=*/true);
  array others_nonzero = where(equal(n_zero, zeros_like(n_zero)), p_safe / safe, zero);
  array at_zero = where(equal(n_zero, ones_like(n_zero)), broadcast_to(p_safe, x.shape()), zero);
  return where(is_zero, at_zero, others_nonzero);
}

// d max(x) / dx_i (or min): the cotangent is split evenly over the elements
// equal to the result (ties share it, like JAX); NaN results go to the NaNs.
array extreme_partials(const array& x, const array& out, const std::vector<int>& axes) {
  array o = broadcast_to(out, x.shape());
  array hit = equal(x, o) || (isnan(x) && isnan(o));
  array w = astype(hit, x.dtype());
  return w / sum(w, axes, /*keepdims=*/true);
}

}  // namespace

// Reduce: Sum broadcasts the cotangent back; Prod and Max/Min scale it by
// the partials above; All/Any (bool results) and integer inputs give zeros.
std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  bool carries = differentiable(x) && is_floating(out_dtype_);
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (!carries) {
      res.push_back(zeros_like(x));
      continue;
    }
    array g = broadcast_to(astype(cts[0], x.dtype()), x.shape());
    switch (op_) {
      case ReduceOp::Sum:
        break;
      case ReduceOp::Prod:
        g = g * prod_partials(x, axes_);
        break;
      case ReduceOp::Max:
      case ReduceOp::Min:
        g = g * extreme_partials(x, outputs[0], axes_);
        break;
      case ReduceOp::All:
      case ReduceOp::Any:
        g = zeros_like(x);
        break;
    }
    res.push_back(g);
  }
  return res;
}

std::vector<array> Reduce::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  Shape out_shape = keep_shape(x.shape(), axes_);
  if (!differentiable(x) || !is_floating(out_dtype_) || op_ == ReduceOp::All ||
      op_ == ReduceOp::Any) {
    return {zeros(out_shape, out_dtype_)};
  }
  array t = tangents[0];
  switch (op_) {
    case ReduceOp::Prod:
      t = t * prod_partials(x, axes_);
      break;
    case ReduceOp::Max:
      t = t * extreme_partials(x, max(x, axes_, true), axes_);
      break;
    case ReduceOp::Min:
      t = t * extreme_partials(x, min(x, axes_, true), axes_);
      break;
    default:
      break;
  }
  return {astype(sum(t, axes_, /*keepdims=*/true), out_dtype_)};
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  return std::vector<array>(argnums.size(), zeros_like(primals[0]));
}

std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&) {
  return {zeros(keep_shape(primals[0].shape(), {axis_}), int32)};
}

// The transpose of a cumulative sum is the cumulative sum in the other
// direction (same inclusivity).
std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  bool carries = differentiable(x) && differentiable(outputs[0]);
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(carries ? astype(cumsum(cts[0], axis_, !reverse_, inclusive_), x.dtype())
                          : zeros_like(x));
  }
  return res;
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  if (!differentiable(x)) return {zeros(x.shape(), x.dtype() == int64 ? int64 : int32)};
  return {cumsum(tangents[0], axis_, reverse_, inclusive_)};
}

std::vector<array> Arange::vjp(const std::vector<array>&, const std::vector<array>&,
                               const std::vector<int>&, const std::vector<array>&) {
  return {};
}

}  // namespace mfx
