#include "mfx/primitive.h"

#include <fmt/format.h>

#include "cuda/runtime.h"
#include "mfx/ops.h"
#include "transforms/batching.h"

namespace mfx {

void Primitive::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // The GPU backend lives with the code generator (mfx_compiler) and
  // registers itself; it throws "[<name>] has no GPU kernel yet" for
  // primitives it cannot run.
  auto fn = cuda::gpu_evaluator();
  if (!fn) {
    throw std::runtime_error(fmt::format(
        "[{}] has no GPU kernel yet (the GPU backend, library mfx_compiler, is not linked)",
        name()));
  }
  Device d = inputs.empty() ? device() : inputs[0].buffer()->device;
  fn(*this, inputs, outputs, d);
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::runtime_error(fmt::format("[{}] has no vjp rule", name()));
}

std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::runtime_error(fmt::format("[{}] has no jvp rule", name()));
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs) {
  // One application per batch element, stacked along a new front axis.
  const int64_t batch = batching::batch_size(inputs, axes);
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  std::vector<std::vector<array>> per_output(outputs.size());
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<array> element;
    for (size_t i = 0; i < inputs.size(); ++i) {
      element.push_back(axes[i] >= 0 ? batching::batch_element(inputs[i], axes[i], b) : inputs[i]);
    }
    auto outs = array::make_arrays(shapes, dtypes, shared_from_this(), std::move(element));
    for (size_t k = 0; k < outs.size(); ++k) per_output[k].push_back(std::move(outs[k]));
  }
  std::vector<array> stacked;
  for (size_t k = 0; k < outputs.size(); ++k) {
    stacked.push_back(batch > 0 ? stack(per_output[k], 0)
                                : zeros(batching::with_batch(0, shapes[k]), dtypes[k]));
  }
  return {stacked, std::vector<int>(outputs.size(), 0)};
}

}  // namespace mfx
