// Jitted programs on GPU arrays (internal): a Compiled primitive replays its
// plan, whose steps then run where their inputs live; its fused kernels are
// launched from their Kernel IR (compiled to PTX once, cached) and its
// range-checked index arrays are checked before use: by a device kernel on
// a GPU (errors reported at the next synchronisation), on the host for the
// CPU target.
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"

namespace mfx::gpu_detail {

/// Runs `p` when it is a step of a jitted program (Compiled, FusedKernel,
/// RangeCheckedIndex) on `target`; returns false for other primitives.
bool eval_jit_step(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
