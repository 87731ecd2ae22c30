// Row-major OpenBLAS gemm for the CPU kernels (internal): C = op(A) op(B).
//
// One thread pool runs everything: OpenBLAS is kept single-threaded and a
// large product is split into blocks of C's rows (or columns) over mfx's
// pool. With both pools active, OpenBLAS's idle workers spin and yield on
// the cores mfx's workers need (a quarter of a training step's samples were
// scheduling), and the two never share the machine's cores well.
#pragma once

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <mutex>
#include <stdexcept>

#include "cpu/parallel.h"

namespace mfx::cpu {

namespace detail {

inline void blas_gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                      const float* b, int ldb, float* c, int ldc, bool accumulate) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}

inline void blas_gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda,
                      const double* b, int ldb, double* c, int ldc, bool accumulate) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0, a, lda, b, ldb, accumulate ? 1.0 : 0.0, c, ldc);
}

// Products below this many multiply-adds run as one call (a hand-off to the
// pool costs more than it saves); blocks hold at least kGemmBlock rows or
// columns so each call still runs the BLAS kernels at full width.
inline constexpr int64_t kGemmSplitWork = int64_t{1} << 21;
inline constexpr int64_t kGemmBlock = 32;

inline void keep_blas_single_threaded() {
  static std::once_flag single;
  std::call_once(single, [] { openblas_set_num_threads(1); });
}

}  // namespace detail

/// C[m, n] = op(A) op(B) (with `accumulate`: C += op(A) op(B)), row-major,
/// on the calling thread only: for kernels that split their own work over
/// the pool into tasks that each run a whole product.
template <typename T>
void gemm_serial(bool ta, bool tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb,
                 T* c, int ldc, bool accumulate = false) {
  detail::keep_blas_single_threaded();
  detail::blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

/// C[m, n] = op(A) op(B) (with `accumulate`: C += op(A) op(B)), row-major,
/// split over mfx's thread pool.
template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb, T* c,
          int ldc, bool accumulate = false) {
  detail::keep_blas_single_threaded();
  const int64_t work = int64_t{m} * n * k;
  if (work < detail::kGemmSplitWork || num_threads() == 1 ||
      std::max(m, n) < 2 * detail::kGemmBlock) {
    detail::blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  if (m >= n) {
    // Rows [i0, i1) of C need rows [i0, i1) of op(A): row i of A, or column
    // i of A when it is transposed.
    parallel_for(m, detail::kGemmBlock, [&](int64_t i0, int64_t i1) {
      const T* ai = ta ? a + i0 : a + i0 * lda;
      detail::blas_gemm(ta, tb, static_cast<int>(i1 - i0), n, k, ai, lda, b, ldb, c + i0 * ldc,
                        ldc, accumulate);
    });
  } else {
    // Columns [j0, j1) of C need columns [j0, j1) of op(B).
    parallel_for(n, detail::kGemmBlock, [&](int64_t j0, int64_t j1) {
      const T* bj = tb ? b + j0 * ldb : b + j0;
      detail::blas_gemm(ta, tb, m, static_cast<int>(j1 - j0), k, a, lda, bj, ldb, c + j0, ldc,
                        accumulate);
    });
  }
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
