// small_sgemm: see small_gemm.h.
#include "cpu/small_gemm.h"

#include <algorithm>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define MFX_SMALL_GEMM_AVX512 1
#endif

namespace mfx::cpu {

#ifdef MFX_SMALL_GEMM_AVX512

namespace {

constexpr int kRows = 8;  // rows of C per tile: one broadcast of A each
// Rows of A and B per pass: a pass's slice of B (kDepth rows of the
// columns) stays in the core's L1/L2 while every 8-row block of A reads it.
constexpr int kDepth = 256;

// C[rows, cols] (rows <= 8, cols <= 16 V) = A[rows, k] times B[k, 16 V]
// (+= with `accumulate`): 8 x V accumulators for the whole of k. B is read
// whole (16 V columns; a remainder is copied into a zero-padded block first:
// masked loads in the loop ran at half speed); columns past `cols` are not
// stored.
// B's row kk starts at brow(kk): b + kk * ldb for a matrix, a table of row
// pointers for small_sgemm_rows.
template <int V, typename BRow>
__attribute__((target("avx512f"))) void tile(int k, const float* a, int lda, BRow brow, float* c,
                                             int ldc, int rows, int cols, bool accumulate) {
  // Rows past `rows` repeat row 0 (read, never stored).
  const float* ar[kRows];
  for (int r = 0; r < kRows; ++r) ar[r] = a + static_cast<long>(r < rows ? r : 0) * lda;
  __mmask16 mask[V];
  for (int v = 0; v < V; ++v) {
    const int left = std::clamp(cols - 16 * v, 0, 16);
    mask[v] = static_cast<__mmask16>((1u << left) - 1u);
  }
  __m512 acc[kRows][V];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
      acc[r][v] = accumulate && r < rows
                      ? _mm512_maskz_loadu_ps(mask[v], c + static_cast<long>(r) * ldc + 16 * v)
                      : _mm512_setzero_ps();
    }
  }
  for (int kk = 0; kk < k; ++kk) {
    const float* bk = brow(kk);
    __m512 bv[V];
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_ps(bk + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_set1_ps(ar[r][kk]);
#pragma GCC unroll 3
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* cr = c + static_cast<long>(r) * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(cr + 16 * v, mask[v], acc[r][v]);
  }
}

// One tile of `cols` columns with the fewest vectors that cover them.
template <typename BRow>
void run_tile(int k, const float* a, int lda, BRow brow, float* c, int ldc, int rows, int cols,
              bool accumulate) {
  if (cols > 32)
    tile<3>(k, a, lda, brow, c, ldc, rows, cols, accumulate);
  else if (cols > 16)
    tile<2>(k, a, lda, brow, c, ldc, rows, cols, accumulate);
  else
    tile<1>(k, a, lda, brow, c, ldc, rows, cols, accumulate);
}

// The column tiling shared by both entry points: C[rows, 0:n] = A[rows, k]
// times B[k, 0:n] with B's rows at brow(kk) + j. Tiles of 48 columns, then
// one of 16 or 32; 48 + 16 run as 32 + 32 (a 16-column tile has only 8
// accumulators, too few to hide the FMA latency: it ran at half speed).
// `rest(j0, w)` runs a remainder w of another width.
template <typename BRow, typename Rest>
void column_tiles(int n, int k, const float* ap, int lda, BRow brow, float* ci, int ldc, int rows,
                  bool accumulate, Rest rest) {
  auto run = [&](int j0, int cols) {
    run_tile(k, ap, lda, [&](int kk) { return brow(kk) + j0; }, ci + j0, ldc, rows, cols,
             accumulate);
  };
  int j0 = 0;
  const bool last_two_as_32 = n >= 64 && n % 48 == 16;
  for (; j0 + 48 <= n - (last_two_as_32 ? 64 : 0); j0 += 48) run(j0, 48);
  if (last_two_as_32) {
    run(j0, 32);
    j0 += 32;
  }
  const int w = n - j0;
  if (w == 16 || w == 32) {
    run(j0, w);
  } else if (w > 0) {
    rest(j0, w);
  }
}

}  // namespace

bool small_sgemm_available() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

void small_sgemm(int m, int n, int k_all, const float* a, int lda, const float* b, int ldb,
                 float* c, int ldc, bool accumulate_into_c) {
  thread_local std::vector<float> padded;  // B's last columns, zero-padded
  int padded_pass = 0;                     // k0 + 1 of the pass it holds
  for (int k0 = 0; k0 < k_all; k0 += kDepth) {
    const int k = std::min(kDepth, k_all - k0);
    const bool accumulate = accumulate_into_c || k0 > 0;
    const float* bk = b + static_cast<long>(k0) * ldb;
    for (int i0 = 0; i0 < m; i0 += kRows) {
      const int rows = std::min(kRows, m - i0);
      const float* ap = a + static_cast<long>(i0) * lda + k0;
      float* ci = c + static_cast<long>(i0) * ldc;
      auto brow = [&](int kk) { return bk + static_cast<long>(kk) * ldb; };
      // A remainder of another width is read from a zero-padded copy, made
      // once per pass (masked loads in the loop ran at half speed).
      auto rest = [&](int j0, int w) {
        const int width = 16 * ((w + 15) / 16);
        if (padded_pass != k0 + 1) {
          padded.assign(static_cast<size_t>(k) * width, 0.0f);
          for (int kk = 0; kk < k; ++kk) {
            const float* row = bk + static_cast<long>(kk) * ldb + j0;
            std::copy(row, row + w, padded.begin() + static_cast<long>(kk) * width);
          }
          padded_pass = k0 + 1;
        }
        auto pj = [&](int kk) { return padded.data() + static_cast<long>(kk) * width; };
        run_tile(k, ap, lda, pj, ci + j0, ldc, rows, w, accumulate);
      };
      column_tiles(n, k, ap, lda, brow, ci, ldc, rows, accumulate, rest);
    }
  }
}

void small_sgemm_rows(int m, int n, int k_all, const float* a, int lda, const float* const* b_rows,
                      float* c, int ldc) {
  for (int k0 = 0; k0 < k_all; k0 += kDepth) {
    const int k = std::min(kDepth, k_all - k0);
    const float* const* rows_k = b_rows + k0;
    for (int i0 = 0; i0 < m; i0 += kRows) {
      const int rows = std::min(kRows, m - i0);
      const float* ap = a + static_cast<long>(i0) * lda + k0;
      float* ci = c + static_cast<long>(i0) * ldc;
      auto brow = [&](int kk) { return rows_k[kk]; };
      // Rows are readable 15 columns past n: the remainder reads them whole.
      auto rest = [&](int j0, int w) {
        run_tile(k, ap, lda, [&](int kk) { return rows_k[kk] + j0; }, ci + j0, ldc, rows, w,
                 k0 > 0);
      };
      column_tiles(n, k, ap, lda, brow, ci, ldc, rows, k0 > 0, rest);
    }
  }
}

#else

bool small_sgemm_available() {
  return false;
}

void small_sgemm(int, int, int, const float*, int, const float*, int, float*, int, bool) {}

void small_sgemm_rows(int, int, int, const float*, int, const float* const*, float*, int) {}

#endif

}  // namespace mfx::cpu
