// conv2d on GPU arrays (internal): zero padding by the Pad kernel, the
// patches as a strided view of the padded input copied by the strided-copy
// kernel (im2col), and one batched matmul per group (cuBLAS). The
// derivatives of conv2d are themselves conv2d (with pads, flips and
// transposes around it), so training runs on this path too.
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"

namespace mfx::gpu_detail {

/// Runs `p` when it is a Conv2d on `target` (Target::Cpu: the same steps
/// compiled for the CPU, for tests); returns false for other primitives.
bool eval_conv2d(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
