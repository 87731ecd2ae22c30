// ms_deform_attn on GPU arrays through the hand-written kernels of
// lib/cuda/kernels/ms_deform_attn.cu (internal).
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// Runs `p` when it is MSDeformAttn of order (0, 0) (the forward) or
/// MSDeformAttnBackward (the first-order gradients) and returns true;
/// returns false for any other primitive. On Target::Cpu the CPU kernel
/// runs; on a GPU target inputs are made row-major, outputs allocated on
/// `device` and the kernels launched on its stream.
bool eval_ms_deform_attn(Primitive& p, const std::vector<array>& inputs,
                         std::vector<array>& outputs, compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
