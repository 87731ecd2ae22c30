// scatter / scatter_add on GPU arrays through the kernels of
// lib/cuda/kernels/scatter.cu (internal): bit-identical to the CPU, indices
// range-checked on the device, no host round trip.
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers Scatter: the device kernel for dtypes it takes with int32/int64
/// indices on a GPU target of a build with the kernels (an out-of-range
/// index is reported at the next synchronisation), else the host round trip
/// (host_steps.h).
void register_scatter_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
