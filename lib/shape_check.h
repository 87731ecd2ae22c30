// The one checked computation of array sizes (internal). Every array the
// graph builds passes through checked_size, so a negative dim, an element
// count that overflows int64 or a shape over kMaxArrayBytes is refused where
// the shape is made, instead of a kernel writing past a too-small buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mfx/array.h"

namespace mfx {

/// Elements of `shape`; throws std::invalid_argument "[op] ..." naming the
/// shape for a negative dim or when the array would exceed kMaxArrayBytes as
/// `dtype`. A shape with a zero dim holds 0 elements whatever its other dims.
int64_t checked_size(const Shape& shape, Dtype dtype, std::string_view op);

/// True when checked_size would accept the shape (no allocation, no throw).
bool size_fits(const Shape& shape, Dtype dtype);

/// Elements of an already checked shape (0 for any zero dim, never overflows
/// for shapes checked_size accepted).
int64_t shape_size(const Shape& shape);

/// a * b and a + b of non-negative dims; throw std::invalid_argument "[op] ..."
/// when the result does not fit int64.
int64_t checked_dim_mul(int64_t a, int64_t b, std::string_view op);
int64_t checked_dim_add(int64_t a, int64_t b, std::string_view op);

/// "Broadcast" -> "broadcast", "RandomUniform" -> "random_uniform": a
/// primitive's name as the op that makes it is spelled.
std::string op_name_of_primitive(std::string_view primitive_name);

}  // namespace mfx
