// Whole-array comparisons that answer with a C++ bool (they evaluate).
#include "ops/op_utils.h"

namespace mfx {

bool array_equal(array a, array b, bool equal_nan) {
  check_valid(a, "array_equal");
  check_valid(b, "array_equal");
  if (a.shape() != b.shape()) return false;
  if (a.size() == 0) return true;
  array same = equal(a, b);  // compares in the promoted dtype
  if (equal_nan && (is_floating(a.dtype()) || is_floating(b.dtype()))) {
    same = logical_or(same, logical_and(isnan(a), isnan(b)));
  }
  return all(same).item<bool>();
}

bool allclose(array a, array b, double rtol, double atol, bool equal_nan) {
  check_valid(a, "allclose");
  check_valid(b, "allclose");
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "allclose");
  for (auto d : shape) {
    if (d == 0) return true;
  }
  // numpy.isclose in float64: finite pairs by tolerance, infinities only
  // when equal, NaN only with equal_nan.
  array x = astype(a, float64);
  array y = astype(b, float64);
  array finite = logical_and(isfinite(x), isfinite(y));
  array close = where(finite, less_equal(abs(x - y), atol + rtol * abs(y)), equal(x, y));
  if (equal_nan) close = logical_or(close, logical_and(isnan(x), isnan(y)));
  return all(close).item<bool>();
}

}  // namespace mfx
