// Array creation ops.
#include <cmath>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/creation.h"

namespace mfx {

static void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape) {
    if (d < 0) {
      throw std::invalid_argument(fmt::format("[{}] negative dimension in shape {}", op, shape_str(shape)));
    }
  }
}

array full(Shape shape, array value, Dtype dtype) {
  check_valid(value, "full");
  check_shape(shape, "full");
  // A broadcast view of one value: no memory proportional to the shape.
  return as_public_op("full", [&] { return broadcast_to(astype(value, dtype), shape); });
}

array full(Shape shape, array value) {
  check_valid(value, "full");
  Dtype t = value.dtype();
  return full(std::move(shape), std::move(value), t);
}

// These are built on full; as_public_op makes a refusal say "[zeros]" (or
// the op called), not "[full]", which the caller never named.
array zeros(Shape shape, Dtype dtype) {
  return as_public_op("zeros", [&] { return full(std::move(shape), array(0, dtype), dtype); });
}
array ones(Shape shape, Dtype dtype) {
  return as_public_op("ones", [&] { return full(std::move(shape), array(1, dtype), dtype); });
}
array zeros_like(const array& a) {
  check_valid(a, "zeros_like");
  return as_public_op("zeros_like", [&] { return zeros(a.shape(), a.dtype()); });
}
array ones_like(const array& a) {
  check_valid(a, "ones_like");
  return as_public_op("ones_like", [&] { return ones(a.shape(), a.dtype()); });
}
array full_like(const array& a, array value) {
  check_valid(a, "full_like");
  return as_public_op("full_like", [&] { return full(a.shape(), std::move(value), a.dtype()); });
}

array arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0.0) throw std::invalid_argument("[arange] step cannot be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw std::invalid_argument(fmt::format("[arange] non-finite bounds ({}, {}, {})", start, stop, step));
  }
  double n = std::ceil((stop - start) / step);
  // Checked before the cast: a count beyond int64 (arange(INT64_MAX) rounds
  // up to 2^63) would wrap to a negative dim.
  if (!(n < 0x1p63)) {
    throw std::invalid_argument(fmt::format(
        "[arange] ({}, {}, {}) has {} elements, more than an array can hold", start, stop, step, n));
  }
  int64_t len = n > 0 ? static_cast<int64_t>(n) : 0;
  return array(Shape{len}, dtype, std::make_shared<Arange>(start, step), {});
}

array arange(int64_t stop, Dtype dtype) {
  return arange(0.0, static_cast<double>(stop), 1.0, dtype);
}

array linspace(double start, double stop, int64_t num, Dtype dtype) {
  if (num < 0) throw std::invalid_argument(fmt::format("[linspace] num must be >= 0, got {}", num));
  return as_public_op("linspace", [&] {
    if (num == 1) return full({1}, array(start), dtype);
    double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
    return astype(array(Shape{num}, float64, std::make_shared<Arange>(start, step), {}), dtype);
  });
}

array eye(int64_t n, int64_t m, int k, Dtype dtype) {
  if (m < 0) m = n;
  if (n < 0) throw std::invalid_argument(fmt::format("[eye] negative size {}", n));
  return as_public_op("eye", [&] {
    array rows = reshape(arange(n, int64), {n, 1});
    array cols = reshape(arange(m, int64), {1, m});
    return astype(equal(cols - rows, array(static_cast<int64_t>(k))), dtype);
  });
}

array identity(int64_t n, Dtype dtype) {
  return as_public_op("identity", [&] { return eye(n, n, 0, dtype); });
}

}  // namespace mfx
