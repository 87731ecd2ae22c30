// Steps of jitted programs on the GPU path (see jit_steps.h).
#include "compiler/gpu/jit_steps.h"

#include "compiler/gpu/one_op.h"
#include "compiler/jit/compiled.h"
#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/small_contractions.h"
#include "cuda/runtime.h"

namespace mfx::gpu_detail {

namespace {

void eval_fused(jit_detail::FusedKernel& fk, const std::vector<array>& inputs,
                std::vector<array>& outputs, compiler::Target target, Device device) {
  const compiler::Kernel& k = fk.kernel();
  // Kernels address every argument as a dense row-major buffer.
  std::vector<array> dense;
  for (const array& x : inputs) dense.push_back(dense_copy(x, target));
  for (const auto& [arg, size] : fk.range_checks()) {
    dense[arg] = checked_indices(dense[arg], size, "take", target, device);
  }
  std::vector<void*> buffers;
  for (const array& x : dense) buffers.push_back(x.raw_data());
  for (array& out : outputs) {
    out.allocate(device);
    buffers.push_back(out.raw_data());
  }
  launch(k, buffers, target, device);
}

}  // namespace

bool eval_jit_step(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   compiler::Target target, Device device) {
  if (auto* fk = dynamic_cast<jit_detail::FusedKernel*>(&p)) {
    eval_fused(*fk, inputs, outputs, target, device);
    return true;
  }
  if (auto* rc = dynamic_cast<jit_detail::RangeCheckedIndex*>(&p)) {
    const array x = checked_indices(inputs[0], rc->size(), "scatter_add", target, device);
    outputs[0].set_view(x, x.strides(), 0, x.data_size(), x.flags());
    return true;
  }
  if (dynamic_cast<jit_detail::Compiled*>(&p)) {
    // Replays the plan: each step comes back here (or to the other GPU
    // handlers) because its inputs live on the device.
    p.eval_cpu(inputs, outputs);
    return true;
  }
  return false;
}

}  // namespace mfx::gpu_detail
