// Cumulative sums on GPU arrays through the kernels of
// lib/cuda/kernels/scan.cu (internal): bit-identical to the CPU, so no host
// round trip (the detector's position encoding then replays in CUDA graphs).
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers Scan: the device kernel for sums between dtypes it takes
/// (scan_supported) on a GPU target of a build with the kernels, else the
/// host round trip (float16/bfloat16, other scans; host_steps.h).
void register_scan_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
