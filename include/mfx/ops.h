// Array operations. Every op validates its inputs, promotes dtypes and
// broadcasts like numpy, and returns an unevaluated array. Errors are
// std::invalid_argument naming the op and the offending shapes/dtypes.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "mfx/array.h"

namespace mfx {

// ---------------------------------------------------------------- creation

/// An array of `shape` filled with `value` converted to `dtype`.
array full(Shape shape, array value, Dtype dtype);
/// An array of `shape` filled with `value`, keeping value's dtype.
array full(Shape shape, array value);
array zeros(Shape shape, Dtype dtype = float32);
array ones(Shape shape, Dtype dtype = float32);
array zeros_like(const array& a);
array ones_like(const array& a);
array full_like(const array& a, array value);
/// [start, stop) with `step`, like numpy.arange.
array arange(double start, double stop, double step = 1.0, Dtype dtype = float32);
array arange(int64_t stop, Dtype dtype = int32);
/// `num` evenly spaced values from start to stop inclusive.
array linspace(double start, double stop, int64_t num, Dtype dtype = float32);
/// n×m matrix with ones on diagonal k (m defaults to n).
array eye(int64_t n, int64_t m = -1, int k = 0, Dtype dtype = float32);
array identity(int64_t n, Dtype dtype = float32);

/// Converts element type (float -> int truncates toward zero; x != 0 -> bool).
array astype(const array& a, Dtype dtype);

// ------------------------------------------------------------- elementwise

array add(const array& a, const array& b);
array subtract(const array& a, const array& b);
array multiply(const array& a, const array& b);
/// True division: integer inputs give float32.
array divide(const array& a, const array& b);
/// Floor division (integers) / floor(a / b) (floats).
array floor_divide(const array& a, const array& b);
/// Remainder with the sign of the divisor, like numpy.
array remainder(const array& a, const array& b);
array power(const array& a, const array& b);
array maximum(const array& a, const array& b);
array minimum(const array& a, const array& b);
/// atan2(a, b) elementwise.
array arctan2(const array& a, const array& b);

array negative(const array& a);
array abs(const array& a);
array sign(const array& a);
array exp(const array& a);
array log(const array& a);
array log1p(const array& a);
array expm1(const array& a);
array sqrt(const array& a);
array rsqrt(const array& a);
array square(const array& a);
array reciprocal(const array& a);
array sin(const array& a);
array cos(const array& a);
array tan(const array& a);
array arctan(const array& a);
array tanh(const array& a);
array sigmoid(const array& a);
array erf(const array& a);
array erfinv(const array& a);
array floor(const array& a);
array ceil(const array& a);
/// Rounds half to even, like numpy.round.
array round(const array& a);
array relu(const array& a);
/// GELU; `approximate` selects the tanh form.
array gelu(const array& a, bool approximate = false);
/// log(1 + exp(a)), computed stably.
array softplus(const array& a);
/// log(sigmoid(a)), computed stably.
array log_sigmoid(const array& a);
array clip(const array& a, std::optional<array> lo, std::optional<array> hi);

array equal(const array& a, const array& b);
array not_equal(const array& a, const array& b);
array less(const array& a, const array& b);
array less_equal(const array& a, const array& b);
array greater(const array& a, const array& b);
array greater_equal(const array& a, const array& b);
array logical_and(const array& a, const array& b);
array logical_or(const array& a, const array& b);
array logical_xor(const array& a, const array& b);
array logical_not(const array& a);
array isnan(const array& a);
array isinf(const array& a);
array isfinite(const array& a);
/// cond ? a : b, broadcasting all three.
array where(const array& cond, const array& a, const array& b);

/// Blocks gradients (identity in value).
array stop_gradient(const array& a);

// -------------------------------------------------------------- reductions
// `axes` may be negative. The forms without axes reduce every axis; an empty
// axes vector reduces nothing (numpy's axis=()). The `int axis` forms make a
// braced single axis, sum(a, {1}), pick the axis rather than `keepdims`.
// Result dtypes: sum/prod/cumsum give int32 for bool/uint8/int32, int64 for
// int64, and keep floats (halves accumulate in float32, float32 sums in
// float32 blocks added in double); mean/var/std/logsumexp/softmax give floats
// (integers -> float32); max/min keep the dtype and propagate NaN; all/any
// give bool. max/min/argmax/argmin of an empty extent throw; an empty sum is
// 0, prod 1, all true, any false, mean NaN.

array sum(const array& a, const std::vector<int>& axes, bool keepdims = false);
array sum(const array& a, int axis, bool keepdims = false);
array sum(const array& a, bool keepdims = false);
array mean(const array& a, const std::vector<int>& axes, bool keepdims = false);
array mean(const array& a, int axis, bool keepdims = false);
array mean(const array& a, bool keepdims = false);
array prod(const array& a, const std::vector<int>& axes, bool keepdims = false);
array prod(const array& a, int axis, bool keepdims = false);
array prod(const array& a, bool keepdims = false);
array max(const array& a, const std::vector<int>& axes, bool keepdims = false);
array max(const array& a, int axis, bool keepdims = false);
array max(const array& a, bool keepdims = false);
array min(const array& a, const std::vector<int>& axes, bool keepdims = false);
array min(const array& a, int axis, bool keepdims = false);
array min(const array& a, bool keepdims = false);
array all(const array& a, const std::vector<int>& axes, bool keepdims = false);
array all(const array& a, int axis, bool keepdims = false);
array all(const array& a, bool keepdims = false);
array any(const array& a, const std::vector<int>& axes, bool keepdims = false);
array any(const array& a, int axis, bool keepdims = false);
array any(const array& a, bool keepdims = false);
/// Variance with `ddof` delta degrees of freedom.
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0);
array var(const array& a, int axis, bool keepdims = false, int ddof = 0);
array var(const array& a, bool keepdims = false, int ddof = 0);
array std(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0);
array std(const array& a, int axis, bool keepdims = false, int ddof = 0);
array std(const array& a, bool keepdims = false, int ddof = 0);
/// log(sum(exp(a))) computed stably: all -inf gives -inf, any +inf gives
/// +inf, an empty extent gives -inf.
array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims = false);
array logsumexp(const array& a, int axis, bool keepdims = false);
array logsumexp(const array& a, bool keepdims = false);
/// Index (int32) of the first maximum along `axis`.
array argmax(const array& a, int axis, bool keepdims = false);
array argmin(const array& a, int axis, bool keepdims = false);
/// Cumulative sum along `axis`; `reverse` sums from the end, `inclusive`
/// includes the current element.
array cumsum(const array& a, int axis, bool reverse = false, bool inclusive = true);
/// Softmax over `axes`, shifted by the max for stability; a slice that is all
/// -inf (or holds +inf) gives NaN, like PyTorch.
array softmax(const array& a, const std::vector<int>& axes);
array softmax(const array& a, int axis = -1);
array log_softmax(const array& a, const std::vector<int>& axes);
array log_softmax(const array& a, int axis = -1);

// ------------------------------------------------------------------- shape

/// One dimension may be -1 (inferred). A view when the layout allows.
array reshape(const array& a, Shape shape);
array flatten(const array& a, int start_axis = 0, int end_axis = -1);
/// Permutes axes (a view).
array transpose(const array& a, const std::vector<int>& axes);
/// Reverses the axes.
array transpose(const array& a);
array swapaxes(const array& a, int axis1, int axis2);
array moveaxis(const array& a, int source, int destination);
array expand_dims(const array& a, const std::vector<int>& axes);
array expand_dims(const array& a, int axis);
array squeeze(const array& a, const std::vector<int>& axes);
array squeeze(const array& a);
/// Broadcasts to `shape` with numpy rules (a view, no copy).
array broadcast_to(const array& a, const Shape& shape);
std::vector<array> broadcast_arrays(const std::vector<array>& arrays);
/// The broadcast shape of several shapes; throws naming `op` when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast_shapes");
array concatenate(const std::vector<array>& arrays, int axis = 0);
array stack(const std::vector<array>& arrays, int axis = 0);
/// Splits into `num_splits` equal parts along `axis`.
std::vector<array> split(const array& a, int num_splits, int axis = 0);
/// Splits at the given indices along `axis`.
std::vector<array> split(const array& a, const std::vector<int64_t>& indices, int axis = 0);
/// Strided slice with numpy semantics per axis (negative indices and steps,
/// clamping). Missing trailing axes are taken whole. A view.
array slice(const array& a, const Shape& start, const Shape& stop, const Shape& step = {});
/// Slice of one axis.
array slice_axis(const array& a, int axis, int64_t start, int64_t stop, int64_t step = 1);
/// Constant padding; pad_width holds (before, after) per axis (a single pair
/// applies to every axis). `value` is converted to a's dtype.
array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
          const array& value = array(0.0f));
/// Reverses the given axes (a view).
array flip(const array& a, const std::vector<int>& axes);
/// Repeats each element `repeats` times along `axis` (numpy.repeat).
array repeat(const array& a, int64_t repeats, int axis);
/// Tiles the array (numpy.tile).
array tile(const array& a, const std::vector<int64_t>& reps);

// ---------------------------------------------------------------- indexing

/// Selects entries of `a` along `axis` by integer `indices` of any shape:
/// result shape a.shape[:axis] + indices.shape + a.shape[axis+1:].
/// Negative indices count from the end; out-of-range indices throw at eval.
array take(const array& a, const array& indices, int axis);
/// numpy.take_along_axis: indices broadcast against a except along axis.
array take_along_axis(const array& a, const array& indices, int axis);
/// Copy of `a` with a[.., indices[..], ..] = updates along `axis`
/// (numpy.put_along_axis / torch.scatter). Duplicates: the last write wins.
array scatter(const array& a, const array& indices, const array& updates, int axis);
/// Same, accumulating: a[.., indices[..], ..] += updates (torch.scatter_add;
/// bool accumulates with logical or).
array scatter_add(const array& a, const array& indices, const array& updates, int axis);
/// One-hot encoding along a new last axis; out-of-range classes give zeros.
array one_hot(const array& indices, int64_t num_classes, Dtype dtype = float32);
/// Sorted copy along `axis` (ascending, stable; NaN last).
array sort(const array& a, int axis = -1);
/// Indices (int32) that sort `a` along `axis` (stable).
array argsort(const array& a, int axis = -1);
/// The k largest values along `axis` in descending order, and their int32 indices.
/// Ties keep the lower index first; NaN ranks above every number.
std::pair<array, array> topk(const array& a, int64_t k, int axis = -1);

// -------------------------------------------------------------- operators

array operator-(const array& a);
array operator!(const array& a);
array operator+(const array& a, const array& b);
array operator-(const array& a, const array& b);
array operator*(const array& a, const array& b);
array operator/(const array& a, const array& b);
array operator<(const array& a, const array& b);
array operator<=(const array& a, const array& b);
array operator>(const array& a, const array& b);
array operator>=(const array& a, const array& b);
array operator&&(const array& a, const array& b);
array operator||(const array& a, const array& b);

/// A C++ scalar beside an array takes the array's dtype when both are of the
/// same kind (float with float, integer with integer), like Python scalars in
/// numpy 2 / JAX; a float scalar with an integer array gives float32.
array weak_scalar(double value, const array& like);
array weak_scalar(int64_t value, const array& like);

#define MFX_SCALAR_OPERATOR(OP)                                        \
  template <Scalar T>                                                  \
  array operator OP(const array& a, T b) {                             \
    if constexpr (std::is_floating_point_v<T>) {                       \
      return a OP weak_scalar(static_cast<double>(b), a);              \
    } else {                                                           \
      return a OP weak_scalar(static_cast<int64_t>(b), a);             \
    }                                                                  \
  }                                                                    \
  template <Scalar T>                                                  \
  array operator OP(T a, const array& b) {                             \
    if constexpr (std::is_floating_point_v<T>) {                       \
      return weak_scalar(static_cast<double>(a), b) OP b;              \
    } else {                                                           \
      return weak_scalar(static_cast<int64_t>(a), b) OP b;             \
    }                                                                  \
  }
MFX_SCALAR_OPERATOR(+)
MFX_SCALAR_OPERATOR(-)
MFX_SCALAR_OPERATOR(*)
MFX_SCALAR_OPERATOR(/)
MFX_SCALAR_OPERATOR(<)
MFX_SCALAR_OPERATOR(<=)
MFX_SCALAR_OPERATOR(>)
MFX_SCALAR_OPERATOR(>=)
#undef MFX_SCALAR_OPERATOR

/// Elementwise comparison helpers; == and != on arrays are deliberately not
/// overloaded (they would read as identity tests).
bool array_equal(array a, array b, bool equal_nan = false);
/// |a - b| <= atol + rtol * |b| everywhere (evaluates).
bool allclose(array a, array b, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false);

}  // namespace mfx
