// Batching rules of concatenation and padding.
#include "mfx/ops.h"
#include "primitives/shape.h"
#include "transforms/batching.h"

namespace mfx {

std::pair<std::vector<array>, std::vector<int>> Concatenate::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes,
                                                                  const std::vector<array>&) {
  const int64_t batch = batching::batch_size(inputs, axes);
  std::vector<array> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(batching::to_front_broadcast(inputs[i], axes[i], batch));
  }
  return {{concatenate(ins, axis_ + 1)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Pad::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes,
                                                          const std::vector<array>& outputs) {
  // A per-element padding value has no single Pad: apply it per element.
  if (axes[1] >= 0) return Primitive::vmap(inputs, axes, outputs);
  array a = batching::to_front(inputs[0], axes[0]);
  const int64_t batch = a.shape()[0];
  Shape low{0}, high{0};
  low.insert(low.end(), low_.begin(), low_.end());
  high.insert(high.end(), high_.begin(), high_.end());
  return {{array(batching::with_batch(batch, outputs[0].shape()), a.dtype(),
                 std::make_shared<Pad>(low, high), {a, inputs[1]})},
          {0}};
}

}  // namespace mfx
