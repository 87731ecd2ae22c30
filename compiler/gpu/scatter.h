// scatter / scatter_add on GPU arrays through the kernels of
// lib/cuda/kernels/scatter.cu (internal): bit-identical to the CPU, indices
// range-checked on the device, no host round trip.
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// Runs `p` on the device when it is Scatter of a dtype the kernels take with
/// int32/int64 indices on a GPU target of a build with the kernels, and
/// returns true; returns false otherwise (host round trip, host_steps.h).
/// An out-of-range index is reported at the next synchronisation.
bool eval_scatter(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                  compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
