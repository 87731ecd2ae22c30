// Matmul on the GPU through cuBLAS (internal).
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "compiler/gpu/dispatch.h"
#include "mfx/array.h"

namespace mfx::gpu_detail {

/// Evaluates Matmul (a [..., M, K] x b [..., K, N], one float dtype, equal
/// batch shapes) with one strided-batched cuBLAS GEMM. Operands that are not
/// row-major (transposed or broadcast views) are first made dense by the copy
/// kernel compiled for `target`. float32 uses TF32 tensor cores only when
/// gpu::set_allow_tf32(true); halves accumulate in float32.
void matmul_gpu(const std::vector<array>& inputs, std::vector<array>& outputs,
                compiler::Target target, Device device);

/// Registers Matmul: matmul_gpu on a GPU target, the CPU kernel (OpenBLAS)
/// on Target::Cpu.
void register_matmul_kernels(GpuKernelRegistry& registry);

}  // namespace mfx::gpu_detail
