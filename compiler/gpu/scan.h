// Cumulative sums on GPU arrays through the kernels of
// lib/cuda/kernels/scan.cu (internal): bit-identical to the CPU, so no host
// round trip (the detector's position encoding then replays in CUDA graphs).
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// Runs `p` on the device when it is a sum Scan between dtypes the kernels
/// take (scan_supported) on a GPU target of a build with the kernels, and
/// returns true; returns false otherwise (float16/bfloat16 stay host round
/// trips, host_steps.h).
bool eval_scan(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
               compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
