// Reduction op functions: the Reduce/ArgReduce/Scan primitives, and the
// compositions on top of them (mean, var, std, logsumexp, softmax).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/reduction.h"

namespace mfx {

namespace {

// sum/prod/cumsum result type: small integers widen to int32 like
// torch.sum; int64 and floats keep their type.
Dtype sum_dtype(Dtype t) {
  switch (t) {
    case Dtype::bool_:
    case Dtype::uint8:
    case Dtype::int32:
      return int32;
    default:
      return t;
  }
}

// The type composites compute in: halves in float32 (rounded back at the
// end), integers in float32, float32/float64 in themselves.
Dtype compute_dtype(Dtype t) {
  return t == float64 ? float64 : float32;
}

int64_t reduced_count(const Shape& shape, const std::vector<int>& axes) {
  int64_t n = 1;
  for (int a : axes) n *= shape[a];
  return n;
}

Shape drop_axes(const Shape& shape, const std::vector<int>& axes) {
  Shape out;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) out.push_back(shape[d]);
  }
  return out;
}

// `r` computed with keepdims=true, reshaped for keepdims=false.
array finish_keepdims(const array& r, const Shape& shape, const std::vector<int>& axes,
                      bool keepdims) {
  return keepdims ? r : reshape(r, drop_axes(shape, axes));
}

Shape keep_shape(Shape shape, const std::vector<int>& axes) {
  for (int a : axes) shape[a] = 1;
  return shape;
}

// Throws when a reduction without identity meets an empty extent.
void check_nonempty(const array& a, const std::vector<int>& axes, const char* op) {
  for (int ax : axes) {
    if (a.shape()[ax] == 0) {
      throw std::invalid_argument(
          fmt::format("[{}] cannot reduce over empty axis {} of shape {} (no identity)", op, ax,
                      shape_str(a.shape())));
    }
  }
}

// `axes` normalised. No axes: nothing is reduced, only the dtype changes.
array make_reduce(const array& a, ReduceOp op, const std::vector<int>& axes, bool keepdims,
                  Dtype out_dtype) {
  if (axes.empty()) return astype(a, out_dtype);
  array r(keep_shape(a.shape(), axes), out_dtype, std::make_shared<Reduce>(op, axes, out_dtype),
          {a});
  return finish_keepdims(r, a.shape(), axes, keepdims);
}

array reduce_op(const array& a, const std::vector<int>& axes, bool keepdims, ReduceOp op,
                const char* name) {
  check_valid(a, name);
  std::vector<int> ax = normalize_axes(axes, a.shape(), name);
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Prod:
      return make_reduce(a, op, ax, keepdims, sum_dtype(a.dtype()));
    case ReduceOp::Max:
    case ReduceOp::Min:
      check_nonempty(a, ax, name);
      return make_reduce(a, op, ax, keepdims, a.dtype());
    case ReduceOp::All:
    case ReduceOp::Any:
      return make_reduce(a, op, ax, keepdims, bool_);
  }
  throw std::logic_error("[reduce] unknown op");
}

array reduce_all(const array& a, bool keepdims, ReduceOp op, const char* name) {
  check_valid(a, name);
  return reduce_op(a, all_axes(a.ndim()), keepdims, op, name);
}

// Mean over normalised axes: sums into float32 (float64 stays), divides, and
// rounds halves back at the end, so float16 sums cannot overflow.
array mean_impl(const array& a, const std::vector<int>& axes, bool keepdims) {
  Dtype ct = compute_dtype(a.dtype());
  array s = make_reduce(a, ReduceOp::Sum, axes, keepdims, ct);
  array m = s / static_cast<double>(reduced_count(a.shape(), axes));
  return astype(m, to_floating(a.dtype()));
}

// Two-pass variance: mean of squared deviations from the mean.
array var_impl(const array& a, const std::vector<int>& axes, bool keepdims, int ddof) {
  array x = astype(a, compute_dtype(a.dtype()));
  array d = x - mean_impl(x, axes, true);
  array ss = make_reduce(d * d, ReduceOp::Sum, axes, keepdims, x.dtype());
  // numpy: ddof >= n divides by zero (inf or nan), without raising.
  const int64_t dof = std::max<int64_t>(reduced_count(a.shape(), axes) - ddof, 0);
  return astype(ss / static_cast<double>(dof), to_floating(a.dtype()));
}

array logsumexp_impl(const array& a, const std::vector<int>& axes, bool keepdims) {
  const Dtype ft = to_floating(a.dtype());
  if (reduced_count(a.shape(), axes) == 0) {
    Shape s = keepdims ? keep_shape(a.shape(), axes) : drop_axes(a.shape(), axes);
    return full(s, array(-std::numeric_limits<double>::infinity()), ft);
  }
  if (axes.empty()) return astype(a, ft);
  array x = astype(a, compute_dtype(a.dtype()));
  // Shift by the max where it is finite: rows of -inf then give log(0) = -inf
  // and rows holding +inf give +inf instead of inf - inf = nan.
  array m = make_reduce(x, ReduceOp::Max, axes, true, x.dtype());
  array shift = where(isfinite(m), m, zeros({}, x.dtype()));
  array s = make_reduce(exp(x - shift), ReduceOp::Sum, axes, true, x.dtype());
  array r = log(s) + shift;
  return astype(finish_keepdims(r, a.shape(), axes, keepdims), ft);
}

// x - max(x) over normalised axes, in the compute dtype.
array shifted(const array& a, const std::vector<int>& axes) {
  array x = astype(a, compute_dtype(a.dtype()));
  return x - make_reduce(x, ReduceOp::Max, axes, true, x.dtype());
}

array arg_reduce(const array& a, int axis, bool keepdims, ArgReduceOp op, const char* name) {
  check_valid(a, name);
  int ax = normalize_axis(axis, a.shape(), name);
  const int64_t n = a.shape()[ax];
  if (n == 0) {
    throw std::invalid_argument(fmt::format("[{}] cannot reduce over empty axis {} of shape {}",
                                            name, axis, shape_str(a.shape())));
  }
  if (n > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument(
        fmt::format("[{}] axis {} of shape {} is too long for int32 indices", name, axis,
                    shape_str(a.shape())));
  }
  array r(keep_shape(a.shape(), {ax}), int32, std::make_shared<ArgReduce>(op, ax), {a});
  return finish_keepdims(r, a.shape(), {ax}, keepdims);
}

}  // namespace

array sum(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::Sum, "sum");
}
array sum(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::Sum, "sum");
}
array prod(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::Prod, "prod");
}
array prod(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::Prod, "prod");
}
array max(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::Max, "max");
}
array max(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::Max, "max");
}
array min(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::Min, "min");
}
array min(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::Min, "min");
}
array all(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::All, "all");
}
array all(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::All, "all");
}
array any(const array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce_op(a, axes, keepdims, ReduceOp::Any, "any");
}
array any(const array& a, bool keepdims) {
  return reduce_all(a, keepdims, ReduceOp::Any, "any");
}

array sum(const array& a, int axis, bool keepdims) {
  return sum(a, std::vector<int>{axis}, keepdims);
}
array prod(const array& a, int axis, bool keepdims) {
  return prod(a, std::vector<int>{axis}, keepdims);
}
array max(const array& a, int axis, bool keepdims) {
  return max(a, std::vector<int>{axis}, keepdims);
}
array min(const array& a, int axis, bool keepdims) {
  return min(a, std::vector<int>{axis}, keepdims);
}
array all(const array& a, int axis, bool keepdims) {
  return all(a, std::vector<int>{axis}, keepdims);
}
array any(const array& a, int axis, bool keepdims) {
  return any(a, std::vector<int>{axis}, keepdims);
}
array mean(const array& a, int axis, bool keepdims) {
  return mean(a, std::vector<int>{axis}, keepdims);
}
array var(const array& a, int axis, bool keepdims, int ddof) {
  return var(a, std::vector<int>{axis}, keepdims, ddof);
}
array std(const array& a, int axis, bool keepdims, int ddof) {
  return mfx::std(a, std::vector<int>{axis}, keepdims, ddof);
}
array logsumexp(const array& a, int axis, bool keepdims) {
  return logsumexp(a, std::vector<int>{axis}, keepdims);
}

array mean(const array& a, const std::vector<int>& axes, bool keepdims) {
  check_valid(a, "mean");
  return as_public_op(
      "mean", [&] { return mean_impl(a, normalize_axes(axes, a.shape(), "mean"), keepdims); });
}
array mean(const array& a, bool keepdims) {
  check_valid(a, "mean");
  return as_public_op("mean", [&] { return mean_impl(a, all_axes(a.ndim()), keepdims); });
}

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof) {
  check_valid(a, "var");
  return as_public_op(
      "var", [&] { return var_impl(a, normalize_axes(axes, a.shape(), "var"), keepdims, ddof); });
}
array var(const array& a, bool keepdims, int ddof) {
  check_valid(a, "var");
  return as_public_op("var", [&] { return var_impl(a, all_axes(a.ndim()), keepdims, ddof); });
}
array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof) {
  check_valid(a, "std");
  return as_public_op("std", [&] {
    return sqrt(var_impl(a, normalize_axes(axes, a.shape(), "std"), keepdims, ddof));
  });
}
array std(const array& a, bool keepdims, int ddof) {
  check_valid(a, "std");
  return as_public_op("std", [&] { return sqrt(var_impl(a, all_axes(a.ndim()), keepdims, ddof)); });
}

array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims) {
  check_valid(a, "logsumexp");
  return as_public_op("logsumexp", [&] {
    return logsumexp_impl(a, normalize_axes(axes, a.shape(), "logsumexp"), keepdims);
  });
}
array logsumexp(const array& a, bool keepdims) {
  check_valid(a, "logsumexp");
  return as_public_op("logsumexp", [&] { return logsumexp_impl(a, all_axes(a.ndim()), keepdims); });
}

array argmax(const array& a, int axis, bool keepdims) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMax, "argmax");
}
array argmin(const array& a, int axis, bool keepdims) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMin, "argmin");
}

array cumsum(const array& a, int axis, bool reverse, bool inclusive) {
  check_valid(a, "cumsum");
  int ax = normalize_axis(axis, a.shape(), "cumsum");
  return array(a.shape(), sum_dtype(a.dtype()),
               std::make_shared<Scan>(ScanOp::Sum, ax, reverse, inclusive), {a});
}

// softmax/log_softmax shift by the max: a row of all -inf gives nan
// (-inf - -inf), like PyTorch; a +inf entry also gives nan.
array softmax(const array& a, const std::vector<int>& axes) {
  check_valid(a, "softmax");
  std::vector<int> ax = normalize_axes(axes, a.shape(), "softmax");
  const Dtype ft = to_floating(a.dtype());
  if (a.size() == 0) return astype(a, ft);
  array e = exp(shifted(a, ax));
  return astype(e / make_reduce(e, ReduceOp::Sum, ax, true, e.dtype()), ft);
}
array softmax(const array& a, int axis) {
  check_valid(a, "softmax");
  return softmax(a, std::vector<int>{axis});
}

array log_softmax(const array& a, const std::vector<int>& axes) {
  check_valid(a, "log_softmax");
  std::vector<int> ax = normalize_axes(axes, a.shape(), "log_softmax");
  const Dtype ft = to_floating(a.dtype());
  if (a.size() == 0) return astype(a, ft);
  array s = shifted(a, ax);
  array lse = log(make_reduce(exp(s), ReduceOp::Sum, ax, true, s.dtype()));
  return astype(s - lse, ft);
}
array log_softmax(const array& a, int axis) {
  check_valid(a, "log_softmax");
  return log_softmax(a, std::vector<int>{axis});
}

}  // namespace mfx
