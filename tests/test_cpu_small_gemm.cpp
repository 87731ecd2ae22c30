// The convolution's float32 product (lib/cpu/small_gemm.h) against sums in
// float64: full 48-column tiles, 32- and 16-column tiles, remainders read
// from a padded copy, row blocks shorter than 8, depths split into passes,
// and strides wider than the matrices.
#include <cmath>
#include <random>
#include <vector>

#include "cpu/small_gemm.h"
#include "test_utils.h"

using mfx::cpu::small_sgemm;

namespace {

// C = A B with the given leading dimensions (>= the sizes); returns the
// largest |C - ref| / (1 + sum |a b|) (float32 rounding over k terms stays
// far below 1e-6 of that; a wrong element is off by O(1)), or 1e9 when a
// column past n was written.
double max_error(int m, int n, int k, int lda, int ldb, int ldc, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> a(static_cast<size_t>(m) * lda), b(static_cast<size_t>(k) * ldb);
  for (auto& v : a) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  std::vector<float> c(static_cast<size_t>(m) * ldc, 7.0f);
  small_sgemm(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
  double worst = 0;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < ldc; ++j) {
      const float got = c[static_cast<size_t>(i) * ldc + j];
      if (j >= n) {
        if (got != 7.0f) return 1e9;  // wrote past column n
        continue;
      }
      double ref = 0, scale = 1;
      for (int kk = 0; kk < k; ++kk) {
        const double t =
            double(a[static_cast<size_t>(i) * lda + kk]) * b[static_cast<size_t>(kk) * ldb + j];
        ref += t;
        scale += std::abs(t);
      }
      worst = std::max(worst, std::abs(got - ref) / scale);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("small_sgemm equals the float64 product at every tile shape", "[cpu][gemm]") {
  if (!mfx::cpu::small_sgemm_available()) {
    SUCCEED("no AVX-512 on this CPU: the convolution uses OpenBLAS");
    return;
  }
  struct Shape {
    int m, n, k;
  };
  // Tiles of 48, then 32, 16 or a padded remainder (48 + 16 as 32 + 32 at
  // n = 64 and 112); rows in blocks of 8 and shorter; depth over 256 (two
  // passes, the second accumulating).
  for (Shape s : {Shape{8, 48, 5}, Shape{16, 96, 33}, Shape{8, 32, 7}, Shape{8, 16, 9},
                  Shape{24, 64, 40}, Shape{8, 80, 3}, Shape{32, 49, 300}, Shape{5, 17, 11},
                  Shape{13, 100, 257}, Shape{64, 1, 600}, Shape{3, 7, 1}, Shape{40, 224, 576},
                  Shape{16, 112, 70}}) {
    INFO("m " << s.m << " n " << s.n << " k " << s.k);
    CHECK(max_error(s.m, s.n, s.k, s.k, s.n, s.n, 1) < 1e-6);
    // Leading dimensions wider than the matrices (columns of a larger image).
    CHECK(max_error(s.m, s.n, s.k, s.k + 3, s.n + 5, s.n + 17, 2) < 1e-6);
  }
}
