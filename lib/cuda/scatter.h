// Launcher of the scatter kernels (lib/cuda/kernels/scatter.cu, embedded as a
// fatbin when nvcc was found): bit-identical to the CPU kernel of Scatter.
// Raw device pointers in, work queued on `stream` of the current context
// (internal).
#pragma once

#include <cstdint>
#include <utility>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// True when the build embedded the kernels (nvcc was available).
bool scatter_kernels_built();
/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> scatter_fatbin();

/// Whether a kernel exists for `dtype` (every dtype but float16/bfloat16).
bool scatter_supported(Dtype dtype);

/// Applies updates [outer, m, inner] to out [outer, n, inner] (row-major,
/// already holding a copy of the scattered-into array) at positions given
/// by in-range `indices` (int32 or int64, [outer, m, inner]; negative ones
/// count from the end): assignment, or accumulation with `add`.
void scatter_rows(Dtype dtype, CUdeviceptr out, CUdeviceptr indices, Dtype index_dtype,
                  CUdeviceptr updates, int64_t outer, int64_t n, int64_t m, int64_t inner, bool add,
                  CUstream stream);

}  // namespace mfx::cuda
