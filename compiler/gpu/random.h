// The counter-based random primitives on GPU arrays through the kernels of
// lib/cuda/kernels/random.cu (internal): bit-identical to the CPU, the key
// read on the device, so no host round trip and CUDA graphs record them.
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// Runs `p` on the device when it is RandomSplit, RandomBits, RandomUniform
/// (float32/float64) or RandomInteger with an int32/int64 key on a GPU
/// target of a build with the kernels, and returns true; returns false
/// otherwise (the other random primitives and float16/bfloat16 uniforms stay
/// host round trips, host_steps.h).
bool eval_random(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
