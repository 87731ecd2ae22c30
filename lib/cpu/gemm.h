// Row-major OpenBLAS gemm for the CPU kernels (internal): C = op(A) op(B).
#pragma once

#include <cblas.h>
#include <fmt/format.h>

#include <climits>
#include <cstdint>
#include <stdexcept>

namespace mfx::cpu {

inline void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                 int ldb, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

inline void gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b,
                 int ldb, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

/// `v` as a BLAS int (OpenBLAS is built with 32-bit integers); `op` names the caller.
inline int blas_int(int64_t v, const char* op) {
  if (v > INT_MAX) {
    throw std::invalid_argument(
        fmt::format("[{}] dimension {} exceeds the BLAS integer range", op, v));
  }
  return static_cast<int>(v);
}

}  // namespace mfx::cpu
