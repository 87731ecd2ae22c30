// Batching rules of gathers, scatters and the sorting family.
#include "mfx/ops.h"
#include "primitives/indexing.h"
#include "transforms/batching.h"

namespace mfx {

using batching::inserted;
using batching::past;
using batching::to_front;
using batching::to_front_broadcast;
using batching::with_batch;

std::pair<std::vector<array>, std::vector<int>> Gather::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1];
  const Shape& out = outputs[0].shape();
  const Dtype dtype = outputs[0].dtype();
  if (axes[1] < 0) {  // shared indices: gather one axis further in
    array a2 = to_front(a, axes[0]);
    return {{array(with_batch(a2.shape()[0], out), dtype, std::make_shared<Gather>(axis_ + 1),
                   {a2, idx})},
            {0}};
  }
  if (axes[0] < 0) {  // shared table: the batch axis of the indices lands in the output
    const int64_t batch = idx.shape()[axes[1]];
    return {{array(inserted(out, axis_ + axes[1], batch), dtype, shared_from_this(), {a, idx})},
            {axis_ + axes[1]}};
  }
  // Both batched: a take_along_axis over a' [B, pre, n, post] with the
  // indices flattened to [B, 1.., P, 1..] and broadcast (range checks kept).
  array a2 = to_front(a, axes[0]);
  array i2 = to_front(idx, axes[1]);
  const int64_t batch = a2.shape()[0];
  const int k = idx.ndim() - 1;
  int64_t p = 1;
  for (int d = 1; d <= k; ++d) p *= i2.shape()[d];
  Shape ishape{batch};
  Shape full{batch};
  for (int d = 1; d < a2.ndim(); ++d) {
    bool at_axis = d == axis_ + 1;
    ishape.push_back(at_axis ? p : 1);
    full.push_back(at_axis ? p : a2.shape()[d]);
  }
  array gathered = take_along_axis(a2, broadcast_to(reshape(i2, ishape), full), axis_ + 1);
  return {{reshape(gathered, with_batch(batch, out))}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> GatherAxis::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  array a = to_front_broadcast(inputs[0], axes[0], batch);
  array idx = to_front_broadcast(inputs[1], axes[1], batch);
  return {{array(with_batch(batch, outputs[0].shape()), outputs[0].dtype(),
                 std::make_shared<GatherAxis>(axis_ + 1), {a, idx})},
          {0}};
}

std::pair<std::vector<array>, std::vector<int>> Scatter::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  std::vector<array> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(to_front_broadcast(inputs[i], axes[i], batch));
  }
  return {{array(with_batch(batch, outputs[0].shape()), outputs[0].dtype(),
                 std::make_shared<Scatter>(axis_ + 1, reduce_), std::move(ins))},
          {0}};
}

std::pair<std::vector<array>, std::vector<int>> Sort::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  const int b = axes[0];
  return {{array(inputs[0].shape(), outputs[0].dtype(), std::make_shared<Sort>(past(axis_, b)),
                 inputs)},
          {b}};
}

std::pair<std::vector<array>, std::vector<int>> ArgSort::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>& outputs) {
  const int b = axes[0];
  return {{array(inputs[0].shape(), outputs[0].dtype(), std::make_shared<ArgSort>(past(axis_, b)),
                 inputs)},
          {b}};
}

std::pair<std::vector<array>, std::vector<int>> TopK::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  const int b = axes[0];
  const int64_t batch = inputs[0].shape()[b];
  auto outs = array::make_arrays(
      {inserted(outputs[0].shape(), b, batch), inserted(outputs[1].shape(), b, batch)},
      {outputs[0].dtype(), outputs[1].dtype()}, std::make_shared<TopK>(k_, past(axis_, b)), inputs);
  return {outs, {b, b}};
}

}  // namespace mfx
