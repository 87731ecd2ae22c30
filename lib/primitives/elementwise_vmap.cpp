// Batching rules of the elementwise primitives: they are shape agnostic, so
// the same primitive applies to the batched operands once the batch axes of
// all operands line up.
#include "mfx/ops.h"
#include "primitives/elementwise.h"
#include "transforms/batching.h"

namespace mfx {

namespace {

// Applies `prim` to operands whose batch axes are aligned: in place when every
// operand is batched at one axis, else at the front (broadcasting unbatched
// operands as stride-0 views).
std::pair<std::vector<array>, std::vector<int>> elementwise_vmap(
    const std::shared_ptr<Primitive>& prim, const std::vector<array>& inputs,
    const std::vector<int>& axes, const array& output) {
  const int64_t batch = batching::batch_size(inputs, axes);
  bool aligned = true;
  for (int a : axes) aligned = aligned && a == axes[0];
  int axis = aligned ? axes[0] : 0;
  std::vector<array> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(aligned ? inputs[i] : batching::to_front_broadcast(inputs[i], axes[i], batch));
  }
  Shape shape = output.shape();
  shape.insert(shape.begin() + axis, batch);
  return {{array(shape, output.dtype(), prim, std::move(ins))}, {axis}};
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> Unary::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes,
                                                            const std::vector<array>& outputs) {
  return elementwise_vmap(shared_from_this(), inputs, axes, outputs[0]);
}

std::pair<std::vector<array>, std::vector<int>> Binary::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  return elementwise_vmap(shared_from_this(), inputs, axes, outputs[0]);
}

std::pair<std::vector<array>, std::vector<int>> Select::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  return elementwise_vmap(shared_from_this(), inputs, axes, outputs[0]);
}

std::pair<std::vector<array>, std::vector<int>> AsType::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  return elementwise_vmap(shared_from_this(), inputs, axes, outputs[0]);
}

std::pair<std::vector<array>, std::vector<int>> StopGradient::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  return elementwise_vmap(shared_from_this(), inputs, axes, outputs[0]);
}

}  // namespace mfx
