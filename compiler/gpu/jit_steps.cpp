// Steps of jitted programs on the GPU path (see jit_steps.h).
#include "compiler/gpu/jit_steps.h"

#include "compiler/gpu/one_op.h"
#include "compiler/jit/compiled.h"
#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/small_contractions.h"
#include "cuda/runtime.h"

namespace mfx::gpu_detail {

namespace {

bool fused_kernel(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                  compiler::Target target, Device device) {
  auto& fk = static_cast<jit_detail::FusedKernel&>(p);
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
  return true;
}

bool range_checked_index(Primitive& p, const std::vector<array>& inputs,
                         std::vector<array>& outputs, compiler::Target target, Device device) {
  auto& rc = static_cast<jit_detail::RangeCheckedIndex&>(p);
  const array x = checked_indices(inputs[0], rc.size(), "scatter_add", target, device);
  outputs[0].set_view(x, x.strides(), 0, x.data_size(), x.flags());
  return true;
}

// Replays the plan: each step comes back to the dispatch because its inputs
// live on the device.
bool compiled_program(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                      compiler::Target, Device) {
  p.eval_cpu(inputs, outputs);
  return true;
}

}  // namespace

void register_jit_steps(GpuKernelRegistry& r) {
  r.add<jit_detail::FusedKernel>(fused_kernel, "generated kernel of a jitted program");
  r.add<jit_detail::RangeCheckedIndex>(range_checked_index, "index range check kernel");
  r.add<jit_detail::Compiled>(compiled_program, "jitted program, step by step");
}

}  // namespace mfx::gpu_detail
