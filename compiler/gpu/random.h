// The counter-based random primitives on GPU arrays through the kernels of
// lib/cuda/kernels/random.cu (internal): bit-identical to the CPU, the key
// read on the device, so no host round trip and CUDA graphs record them.
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers RandomSplit, RandomBits, RandomUniform and RandomInteger: the
/// device kernels with an int32/int64 key on a GPU target of a build with
/// the kernels (uniforms in float32/float64 only), else the host round trip
/// (host_steps.h; RandomPermutation only has that one).
void register_random_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
