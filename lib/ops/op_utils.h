// Validation helpers shared by op functions (internal).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "mfx/array.h"
#include "mfx/ops.h"

namespace mfx {

/// Axis in [-ndim, ndim) -> [0, ndim); throws naming `op` and the shape.
inline int normalize_axis(int axis, const Shape& shape, const char* op) {
  int nd = static_cast<int>(shape.size());
  if (axis < -nd || axis >= nd) {
    throw std::invalid_argument(
        fmt::format("[{}] axis {} is out of range for shape {}", op, axis, shape_str(shape)));
  }
  return axis < 0 ? axis + nd : axis;
}

/// Normalised, sorted, duplicate-free axes.
std::vector<int> normalize_axes(const std::vector<int>& axes, const Shape& shape, const char* op);

/// All axes 0..ndim-1.
std::vector<int> all_axes(int ndim);

/// Throws unless `a` is a valid (non-null) handle.
inline void check_valid(const array& a, const char* op) {
  if (!a.valid()) throw std::invalid_argument(fmt::format("[{}] null array handle", op));
}

/// Throws unless `a` has a floating dtype.
inline void check_floating(const array& a, const char* op) {
  if (!is_floating(a.dtype())) {
    throw std::invalid_argument(fmt::format("[{}] expected a floating array, got {} of shape {}",
                                            op, dtype_name(a.dtype()), shape_str(a.shape())));
  }
}

/// Layout flags of a strided view.
array::Flags layout_flags(const Shape& shape, const Strides& strides, int64_t data_size);
/// Number of buffer elements a strided view spans.
int64_t layout_span(const Shape& shape, const Strides& strides);

}  // namespace mfx
