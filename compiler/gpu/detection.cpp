// ms_deform_attn on the GPU path (see detection.h).
#include "compiler/gpu/detection.h"

#include "compiler/gpu/host_steps.h"
#include "compiler/gpu/one_op.h"
#include "cuda/msda.h"
#include "cuda/runtime.h"
#include "primitives/detection.h"

namespace mfx::gpu_detail {

namespace {

cuda::CUdeviceptr ptr(const array& a) {
  return reinterpret_cast<cuda::CUdeviceptr>(a.raw_data());
}

// Sizes from value [B,S,H,D] and locations [B,Q,H,L,P,2].
cuda::MsdaProblem problem(const MSDeformAttnBase& p, const array& value, const array& loc) {
  cuda::MsdaProblem m;
  m.batch = value.shape()[0];
  m.positions = value.shape()[1];
  m.heads = static_cast<int>(value.shape()[2]);
  m.channels = static_cast<int>(value.shape()[3]);
  m.queries = loc.shape()[1];
  m.points = static_cast<int>(loc.shape()[4]);
  m.shapes = p.spatial_shapes();
  return m;
}

// The forward kernel (order (0, 0)) or the first-order backward kernel.
bool msda_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                    compiler::Target target, Device device) {
  auto* forward = dynamic_cast<MSDeformAttn*>(&p);
  if (forward && forward->order() != SampleOrder{}) return false;
  if (target == compiler::Target::Cpu) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  std::vector<array> dense;
  for (const array& x : inputs) dense.push_back(dense_copy(x, target));
  const auto& base = static_cast<const MSDeformAttnBase&>(p);
  const cuda::MsdaProblem m = problem(base, dense[0], dense[1]);
  const Dtype dtype = dense[0].dtype();
  cuda::msda_check_problem(m, dtype);
  for (array& out : outputs) out.allocate(device);
  cuda::CUstream stream = cuda::current_stream(device.index);
  if (forward) {
    cuda::msda_forward(m, dtype, ptr(dense[0]), ptr(dense[1]), ptr(dense[2]), ptr(outputs[0]),
                       stream);
    return true;
  }
  // grad_value is accumulated atomically: it starts from zeros (a memset on
  // the stream, so a CUDA graph replays it too).
  cuda::fill_zero_async(outputs[0].raw_data(), outputs[0].nbytes(), device.index);
  cuda::msda_backward(m, dtype, ptr(dense[0]), ptr(dense[1]), ptr(dense[2]), ptr(dense[3]),
                      ptr(outputs[0]), ptr(outputs[1]), ptr(outputs[2]), stream);
  return true;
}

}  // namespace

void register_detection_kernels(GpuKernelRegistry& r) {
  r.add<MSDeformAttn>(device_else_host<msda_on_device>,
                      "ms_deform_attn kernels (cuda/msda.h), else host round trip", true);
  r.add<MSDeformAttnBackward>(msda_on_device, "ms_deform_attn kernels (cuda/msda.h)");
}

}  // namespace mfx::gpu_detail
