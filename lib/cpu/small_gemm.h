// A single-threaded float32 product for the convolution's tasks (internal):
// C[m, n] = A[m, k] B[k, n], row-major, with few rows (the output channels,
// 32 to 256) and B in cache (a task's im2col columns). OpenBLAS reached 60-66
// GFLOP/s at the detector's first stage (m = 32, n = 2048-4096, k = 288)
// against 99 at 1024^3 on the AVX-512 machine these were measured on: its
// kernels are shaped for large m. This one keeps an 8 x 48 tile of C in 24
// AVX-512 registers for the whole of k, reading B straight from the columns
// and A from its 8 rows (each step's broadcasts come from 8 cache lines that
// the next 15 steps reuse, so A needs no packing).
#pragma once

namespace mfx::cpu {

/// True when this CPU has AVX-512F (the only kernel written so far).
bool small_sgemm_available();

/// C[m, n] = A[m, k] B[k, n] (C += A B with `accumulate`), row-major;
/// m, n, k >= 1, lda >= k, ldb >= n, ldc >= n. Only call when
/// small_sgemm_available().
void small_sgemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
                 int ldc, bool accumulate = false);

/// C[m, n] = A[m, k] B[k, n] where B's row kk is b_rows[kk][0, n): an
/// implicit matrix, such as a stride-1 convolution's columns read straight
/// from the padded image (row (c, i, j) is the plane of channel c shifted by
/// tap (i, j)). Every row must be readable 15 floats past n (the last tile
/// loads whole vectors; columns past n are never stored).
void small_sgemm_rows(int m, int n, int k, const float* a, int lda, const float* const* b_rows,
                      float* c, int ldc);

}  // namespace mfx::cpu
