// Launcher of the cumulative-sum kernels (lib/cuda/kernels/scan.cu, embedded
// as a fatbin when nvcc was found): bit-identical to the CPU kernel of Scan.
// Raw device pointers in, work queued on `stream` of the current context
// (internal).
#pragma once

#include <cstdint>
#include <utility>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// True when the build embedded the kernels (nvcc was available).
bool scan_kernels_built();
/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> scan_fatbin();

/// Whether a kernel exists for a sum scan from `in` to `out`: float32 and
/// float64 to themselves, bool/uint8/int32/int64 to int32 or int64.
bool scan_supported(Dtype in, Dtype out);

/// Cumulative sums along the middle axis of row-major [outer, n, inner]
/// buffers (`reverse`: from the end; `inclusive`: each position included).
void scan_sum(Dtype in, Dtype out, CUdeviceptr x, CUdeviceptr y, int64_t outer, int64_t n,
              int64_t inner, bool reverse, bool inclusive, CUstream stream);

}  // namespace mfx::cuda
