// Batching rule of the detection sampling primitives: every input has the
// image batch B (or N) as axis 0, so a vmap batch folds into it —
// [V, B, ...] -> [V * B, ...] — and the outputs unfold back to [V, B, ...].
#include "mfx/ops.h"
#include "primitives/detection.h"
#include "transforms/batching.h"

namespace mfx {

namespace {

std::pair<std::vector<array>, std::vector<int>> fold_batch(std::shared_ptr<Primitive> prim,
                                                           const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  std::vector<array> folded;
  for (size_t i = 0; i < inputs.size(); ++i) {
    array x = batching::to_front_broadcast(inputs[i], axes[i], batch);
    Shape s(x.shape().begin() + 1, x.shape().end());
    s[0] *= batch;
    folded.push_back(reshape(x, s));
  }
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) {
    Shape s = o.shape();
    s[0] *= batch;
    shapes.push_back(s);
    dtypes.push_back(o.dtype());
  }
  auto outs = array::make_arrays(shapes, dtypes, std::move(prim), std::move(folded));
  std::vector<array> res;
  for (size_t k = 0; k < outs.size(); ++k) {
    res.push_back(reshape(outs[k], batching::with_batch(batch, outputs[k].shape())));
  }
  return {res, std::vector<int>(outs.size(), 0)};
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> MSDeformAttnBase::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  return fold_batch(shared_from_this(), inputs, axes, outputs);
}

std::pair<std::vector<array>, std::vector<int>> GridSampleBase::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  return fold_batch(shared_from_this(), inputs, axes, outputs);
}

}  // namespace mfx
