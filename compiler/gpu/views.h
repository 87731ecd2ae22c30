// Views on GPU arrays (internal): transpose, broadcast, slice, reshape, and
// the identity views (stop_gradient, the transforms' TraceInput) set
// strides over the input's buffer, exactly as on the CPU; no kernel runs.
#pragma once

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers Transpose, Broadcast, Slice, StopGradient and TraceInput
/// (their CPU kernels, which only make views), and Reshape (a view of the
/// input, made row-major by the copy kernel first when its layout allows
/// no view).
void register_view_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
