// cuBLAS loaded at run time with dlopen (internal), like the driver: mfx
// links no CUDA library, and a missing cuBLAS is a clear error at the first
// GPU matmul rather than a link failure.
#pragma once

#include <string>

#include "cuda/driver.h"

namespace mfx::cuda {

using cublasHandle_t = struct cublasContext*;
using cublasStatus_t = int;

struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t, CUstream) = nullptr;
  cublasStatus_t (*set_workspace)(cublasHandle_t, void*, size_t) = nullptr;
  cublasStatus_t (*set_math_mode)(cublasHandle_t, int) = nullptr;
  const char* (*status_name)(cublasStatus_t) = nullptr;
  cublasStatus_t (*gemm_strided_batched_ex)(cublasHandle_t, int, int, int, int, int, const void*,
                                            const void*, int, int, long long, const void*, int, int,
                                            long long, const void*, void*, int, int, long long, int,
                                            int, int) = nullptr;
  bool available = false;
  std::string unavailable_reason;
};

/// The process-wide cuBLAS (libcublas.so.13, .12 or .so), loaded on first use.
const Cublas& cublas();

/// The cuBLAS handle for the current stream of device `index` (the eager
/// stream or the side stream CUDA graphs are captured from): one per
/// (device, stream), made once, bound to that stream and given its own
/// workspace, so calls on different streams never share one and a capture
/// never makes cuBLAS allocate. Throws CaptureError when a capture would
/// have to create one (the warm-up call creates it first).
cublasHandle_t cublas_handle(int index);

/// Throws "[cublas] <what> failed: <STATUS> <context>" unless status is 0.
void check_cublas(cublasStatus_t status, const char* what, const std::string& context = "");

// cuBLAS / CUDA enum values used by mfx (cublas_api.h, library_types.h).
inline constexpr int kCublasOpN = 0;
inline constexpr int kCublasDefaultMath = 0;
inline constexpr int kCublasPedanticMath = 2;
inline constexpr int kCublasCompute32F = 68;
inline constexpr int kCublasCompute32FFastTF32 = 77;
inline constexpr int kCublasCompute64F = 70;
inline constexpr int kCublasGemmDefault = -1;
inline constexpr int kCudaR16F = 2;
inline constexpr int kCudaR16BF = 14;
inline constexpr int kCudaR32F = 0;
inline constexpr int kCudaR64F = 1;

}  // namespace mfx::cuda
