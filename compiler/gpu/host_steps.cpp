// Host round trips for primitives without a device kernel (see host_steps.h).
#include "compiler/gpu/host_steps.h"

#include "cpu/copy.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "primitives/creation.h"
#include "primitives/detection.h"
#include "primitives/pooling.h"
#include "primitives/random.h"

namespace mfx::gpu_detail {

bool run_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device) {
  if (target == compiler::Target::Cpu) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  std::vector<array> host_in;
  for (const array& x : inputs) host_in.push_back(to_device(x, Device::cpu()));
  eval(host_in);
  std::vector<array> host_out;
  for (const array& o : outputs) host_out.push_back(array(o.shape(), o.dtype(), nullptr, {}));
  p.eval_cpu(host_in, host_out);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const array dense = cpu::row_contiguous(host_out[i]);
    outputs[i].allocate(device);
    if (dense.nbytes() > 0) {
      cuda::copy_host_to_device(outputs[i].raw_data(), dense.raw_data(), dense.nbytes(),
                                device.index);
    }
  }
  return true;
}

void register_host_steps(GpuKernelRegistry& r) {
  const char* route = "host round trip";
  r.add<Arange>(run_on_host, route, true);
  r.add<RandomPermutation>(run_on_host, route, true);
  r.add<GridSample>(run_on_host, route, true);
  r.add<GridSampleScatter>(run_on_host, route, true);
  r.add<GridSampleBackward>(run_on_host, route, true);
  r.add<MSDeformAttnDot>(run_on_host, route, true);
  r.add<MSDeformAttnScatter>(run_on_host, route, true);
  r.add<MaxPool2d>(run_on_host, route, true);
}

bool runs_on_host(const Primitive& p) {
  const GpuKernelRegistry::Entry* entry = gpu_kernels().find(typeid(p));
  return entry && entry->host_round_trip;
}

}  // namespace mfx::gpu_detail
