// Matmul through cuBLAS on the GPU path (see matmul.h).
#include "compiler/gpu/matmul.h"

#include <fmt/format.h>

#include <climits>

#include "compiler/gpu/cublas.h"
#include "compiler/gpu/one_op.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "primitives/linalg.h"

namespace mfx::gpu_detail {

namespace {

int gemm_int(int64_t v, const array& a, const array& b) {
  if (v > INT_MAX) {
    throw std::invalid_argument(fmt::format("[matmul] shapes {} and {} exceed cuBLAS's int sizes",
                                            shape_str(a.shape()), shape_str(b.shape())));
  }
  return static_cast<int>(v);
}

}  // namespace

void matmul_gpu(const std::vector<array>& inputs, std::vector<array>& outputs,
                compiler::Target target, Device device) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  array& out = outputs[0];
  const int nd = out.ndim();
  const int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1], K = a.shape()[nd - 1];
  out.allocate(device);
  if (out.size() == 0) return;
  if (K == 0) {
    // An empty sum: zeros (a memset, which CUDA graphs can record).
    cuda::fill_zero_async(out.raw_data(), out.nbytes(), device.index);
    return;
  }
  int data_type = 0, compute = 0;
  float alpha_f = 1, beta_f = 0;
  double alpha_d = 1, beta_d = 0;
  const void* alpha = &alpha_f;
  const void* beta = &beta_f;
  switch (out.dtype()) {
    case Dtype::float32:
      data_type = cuda::kCudaR32F;
      compute = gpu::allow_tf32() ? cuda::kCublasCompute32FFastTF32 : cuda::kCublasCompute32F;
      break;
    case Dtype::float16:
      data_type = cuda::kCudaR16F;
      compute = cuda::kCublasCompute32F;
      break;
    case Dtype::bfloat16:
      data_type = cuda::kCudaR16BF;
      compute = cuda::kCublasCompute32F;
      break;
    case Dtype::float64:
      data_type = cuda::kCudaR64F;
      compute = cuda::kCublasCompute64F;
      alpha = &alpha_d;
      beta = &beta_d;
      break;
    default:
      throw std::invalid_argument(
          fmt::format("[matmul] no GPU matmul for dtype {}", dtype_name(out.dtype())));
  }
  array da = dense_copy(a, target);
  array db = dense_copy(b, target);
  const int64_t batch = out.size() / (M * N);
  auto handle = cuda::cublas_handle(device.index);
  // Row-major C = A B is column-major C^T = B^T A^T: swap the operands.
  cuda::check_cublas(
      cuda::cublas().gemm_strided_batched_ex(
          handle, cuda::kCublasOpN, cuda::kCublasOpN, gemm_int(N, a, b), gemm_int(M, a, b),
          gemm_int(K, a, b), alpha, db.raw_data(), data_type, gemm_int(N, a, b), K * N,
          da.raw_data(), data_type, gemm_int(K, a, b), M * K, beta, out.raw_data(), data_type,
          gemm_int(N, a, b), M * N, gemm_int(batch, a, b), compute, cuda::kCublasGemmDefault),
      "cublasGemmStridedBatchedEx",
      fmt::format("({} x {}, {})", shape_str(a.shape()), shape_str(b.shape()),
                  dtype_name(out.dtype())));
}

namespace {

// A library call: cuBLAS on the GPU, the CPU kernel (OpenBLAS) on the host.
bool matmul_library(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                    compiler::Target target, Device device) {
  if (target == compiler::Target::Cpu) {
    p.eval_cpu(inputs, outputs);
  } else {
    matmul_gpu(inputs, outputs, target, device);
  }
  return true;
}

}  // namespace

void register_matmul_kernels(GpuKernelRegistry& r) {
  r.add<Matmul>(matmul_library, "library call: cuBLAS");
}

}  // namespace mfx::gpu_detail
