// Primitives without a device kernel yet, on GPU arrays (internal): their
// inputs are copied to the host, the CPU kernel runs, and the results are
// copied back to the device — correct, synchronous, and slow for large
// data. The list is explicit (docs/design.md §5.4): register_host_steps
// registers the primitives that only have this route (arange, random
// permutations, grid_sample and the second-order ms_deform_attn pieces);
// the random, scan, scatter and ms_deform_attn families register
// device_else_host for the dtypes and orders their device kernels do not
// take (random.h, scan.h, scatter.h, detection.h).
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// The host round trip of `p` for outputs on `device` (Target::Cpu runs the
/// CPU kernel directly). Always returns true.
bool run_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device);

/// A route that runs `device_kernel` and takes the host round trip when that
/// declines (another dtype, a build without nvcc, the CPU target).
template <GpuKernelFn device_kernel>
bool device_else_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                      compiler::Target target, Device device) {
  return device_kernel(p, inputs, outputs, target, device) ||
         run_on_host(p, inputs, outputs, target, device);
}

/// Registers run_on_host as the route of the primitives that have no device
/// kernel: Arange, RandomPermutation, GridSample, GridSampleScatter,
/// GridSampleBackward, MSDeformAttnDot and MSDeformAttnScatter.
void register_host_steps(GpuKernelRegistry& registry);

/// True when the registered route of `p`'s type may take a host round trip
/// (the primitives above, and those registered with device_else_host).
bool runs_on_host(const Primitive& p);

}  // namespace mfx::gpu_detail
