// Batching rules of the view primitives: the batch axis moves to the front and
// the view's parameters gain a leading entry for it.
#include "mfx/ops.h"
#include "primitives/view.h"
#include "transforms/batching.h"

namespace mfx {

using batching::to_front;
using batching::with_batch;

std::pair<std::vector<array>, std::vector<int>> Reshape::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>&) {
  const int64_t batch = inputs[0].shape()[axes[0]];
  return {{reshape(to_front(inputs[0], axes[0]), with_batch(batch, shape_))}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Transpose::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&) {
  std::vector<int> perm{0};
  for (int a : axes_) perm.push_back(a + 1);
  return {{transpose(to_front(inputs[0], axes[0]), perm)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Broadcast::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&) {
  // Numpy alignment is from the right: pad the operand's own dims with ones
  // up to the target rank, behind the batch axis.
  array x = to_front(inputs[0], axes[0]);
  const int64_t batch = x.shape()[0];
  Shape padded{batch};
  padded.insert(padded.end(), shape_.size() - (x.ndim() - 1), 1);
  padded.insert(padded.end(), x.shape().begin() + 1, x.shape().end());
  return {{broadcast_to(reshape(x, padded), with_batch(batch, shape_))}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Slice::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes,
                                                            const std::vector<array>& outputs) {
  array x = to_front(inputs[0], axes[0]);
  const int64_t batch = x.shape()[0];
  Shape start{0}, step{1};
  start.insert(start.end(), start_.begin(), start_.end());
  step.insert(step.end(), step_.begin(), step_.end());
  Shape out = with_batch(batch, out_shape_);
  return {{array(out, x.dtype(), std::make_shared<Slice>(start, step, out), {x})}, {0}};
}

}  // namespace mfx
