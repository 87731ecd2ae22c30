// Sort, ArgSort and TopK on GPU arrays through the hand-written kernels of
// lib/cuda/kernels/sort.cu (internal).
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Runs `p` when it is Sort, ArgSort or TopK and returns true; returns false
/// for any other primitive. The sorted axis is moved last (a transposed view
/// made row-major by the copy kernel for `target`; float64 is copied as its
/// int64 bits, which the GPU code generator can copy); the rows are then sorted
/// by the CUDA kernels on a GPU target, or by the CPU kernel of the same
/// primitive along the last axis on Target::Cpu (which tests this layout
/// logic on the host). When the axis was not last, the outputs are
/// transposed views of the sorted buffers (no copy back).
bool eval_sort(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
               compiler::Target target, Device device);

/// Registers eval_sort as the route of Sort, ArgSort and TopK.
void register_sort_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
