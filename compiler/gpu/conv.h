// conv2d on GPU arrays (internal): zero padding by the Pad kernel, the
// patches as a strided view of the padded input copied by the strided-copy
// kernel (im2col), and one batched matmul per group (cuBLAS). The input
// gradient is itself a conv2d (with pads, flips and transposes around it);
// the weight gradient (Conv2dWeightGrad) copies the patches image-major and
// contracts them with the cotangent over images and positions in one batched
// matmul over the groups, so training runs on this path too.
#pragma once

#include <vector>

#include "compiler/gpu/dispatch.h"

namespace mfx::gpu_detail {

/// Registers Conv2d and Conv2dWeightGrad: the steps above on `target` (Target::Cpu: the same
/// steps compiled for the CPU, for tests).
void register_conv_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
