// Jitted programs on GPU arrays (internal): a Compiled primitive replays its
// plan, whose steps then run where their inputs live; its fused kernels are
// launched from their Kernel IR (compiled to PTX once, cached) and its
// range-checked index arrays are checked before use: by a device kernel on
// a GPU (errors reported at the next synchronisation), on the host for the
// CPU target. compiler/gpu includes compiler/jit and never the reverse: the
// jit plans and runs programs without knowing where their steps execute.
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers the steps of jitted programs: Compiled (the program, replayed
/// step by step), FusedKernel (its generated kernels) and RangeCheckedIndex.
void register_jit_steps(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
