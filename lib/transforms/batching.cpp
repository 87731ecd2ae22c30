#include "transforms/batching.h"

#include <stdexcept>

#include "mfx/ops.h"

namespace mfx::batching {

int64_t batch_size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) return inputs[i].shape()[axes[i]];
  }
  throw std::logic_error("[vmap] a batching rule was called with no batched input");
}

array to_front(const array& x, int axis) {
  return axis <= 0 ? x : moveaxis(x, axis, 0);
}

array to_front_broadcast(const array& x, int axis, int64_t batch) {
  if (axis >= 0) return to_front(x, axis);
  return broadcast_to(expand_dims(x, 0), with_batch(batch, x.shape()));
}

array batch_element(const array& x, int axis, int64_t index) {
  return squeeze(slice_axis(x, axis, index, index + 1), {axis});
}

Shape with_batch(int64_t batch, const Shape& shape) {
  Shape s{batch};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}

std::vector<int> shifted(const std::vector<int>& axes) {
  std::vector<int> out;
  out.reserve(axes.size());
  for (int a : axes) out.push_back(a + 1);
  return out;
}

}  // namespace mfx::batching
