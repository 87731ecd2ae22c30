// ms_deform_attn on GPU arrays through the hand-written kernels of
// lib/cuda/kernels/ms_deform_attn.cu (internal).
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers MSDeformAttn (the kernels at order (0, 0), the forward; other
/// orders take the host round trip, host_steps.h) and MSDeformAttnBackward
/// (the first-order gradients). On Target::Cpu the CPU kernel runs; on a
/// GPU target inputs are made row-major, outputs allocated on `device` and
/// the kernels launched on its stream.
void register_detection_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
