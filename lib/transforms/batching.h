// Helpers shared by the vmap rules (internal): moving, adding and matching
// batch axes. Axis -1 means "not batched".
#pragma once

#include <vector>

#include "mfx/array.h"

namespace mfx::batching {

/// The batch size of the first batched input.
int64_t batch_size(const std::vector<array>& inputs, const std::vector<int>& axes);

/// x with its batch axis moved to the front (a view); x itself when unbatched.
array to_front(const array& x, int axis);

/// x with the batch axis at the front, broadcasting an unbatched x to
/// `batch` copies (a stride-0 view).
array to_front_broadcast(const array& x, int axis, int64_t batch);

/// Element `index` of the batch (the batch axis removed; a view).
array batch_element(const array& x, int axis, int64_t index);

/// Shape {batch} + shape.
Shape with_batch(int64_t batch, const Shape& shape);

/// Where an operand's `axis` lands once a batch axis sits at `batch_axis`.
inline int past(int axis, int batch_axis) {
  return axis < batch_axis ? axis : axis + 1;
}

/// `shape` with a batch dimension of size `batch` inserted at `axis`.
inline Shape inserted(Shape shape, int axis, int64_t batch) {
  shape.insert(shape.begin() + axis, batch);
  return shape;
}

/// Axes shifted by one (for an operand whose batch axis moved to the front).
std::vector<int> shifted(const std::vector<int>& axes);

}  // namespace mfx::batching
