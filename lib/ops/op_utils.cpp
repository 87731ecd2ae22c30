#include "ops/op_utils.h"

#include <algorithm>
#include <numeric>

namespace mfx {

std::vector<int> normalize_axes(const std::vector<int>& axes, const Shape& shape, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, shape, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw std::invalid_argument(
        fmt::format("[{}] repeated axis in ({}) for shape {}", op, fmt::join(axes, ","), shape_str(shape)));
  }
  return out;
}

std::vector<int> all_axes(int ndim) {
  std::vector<int> out(ndim);
  std::iota(out.begin(), out.end(), 0);
  return out;
}

int64_t layout_span(const Shape& shape, const Strides& strides) {
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return 0;
    span += (shape[i] - 1) * std::abs(strides[i]);
  }
  return span;
}

array::Flags layout_flags(const Shape& shape, const Strides& strides, int64_t data_size) {
  array::Flags f;
  int64_t size = 1;
  for (auto d : shape) size *= d;
  // Row-major check ignores size-1 dims, whose stride is irrelevant.
  int64_t expect = 1;
  f.row_contiguous = true;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) {
      f.row_contiguous = false;
      break;
    }
    expect *= shape[i];
  }
  bool positive = std::all_of(strides.begin(), strides.end(), [](int64_t s) { return s >= 0; });
  f.contiguous = positive && data_size == size && layout_span(shape, strides) == size;
  return f;
}

}  // namespace mfx
