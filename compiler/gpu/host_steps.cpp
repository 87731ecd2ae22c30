// Host round trips for primitives without a device kernel (see host_steps.h).
#include "compiler/gpu/host_steps.h"

#include "cpu/copy.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "primitives/creation.h"
#include "primitives/detection.h"
#include "primitives/indexing.h"
#include "primitives/random.h"
#include "primitives/reduction.h"

namespace mfx::gpu_detail {

bool runs_on_host(const Primitive& p) {
  return dynamic_cast<const Arange*>(&p) || dynamic_cast<const RandomSplit*>(&p) ||
         dynamic_cast<const RandomBits*>(&p) || dynamic_cast<const RandomUniform*>(&p) ||
         dynamic_cast<const RandomInteger*>(&p) || dynamic_cast<const RandomPermutation*>(&p) ||
         dynamic_cast<const Scan*>(&p) || dynamic_cast<const Scatter*>(&p) ||
         dynamic_cast<const GridSampleBase*>(&p) || dynamic_cast<const MSDeformAttnBase*>(&p);
}

bool eval_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                  compiler::Target target, Device device) {
  if (!runs_on_host(p)) return false;
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

}  // namespace mfx::gpu_detail
