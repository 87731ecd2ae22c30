// The BLAS kernel set: the test main calls cpu::use_native_blas, so on a CPU
// with AVX2 or AVX-512 this process must run OpenBLAS's matching kernels,
// not its generic fallback.
#include <cstdlib>

#include "mfx/cpu.h"
#include "mfx/ops.h"
#include "mfx/random.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("OpenBLAS runs the kernels the CPU supports") {
  const std::string core = cpu::blas_core();
  const std::string best = cpu::best_blas_core();
  INFO("core " << core << ", best " << best);
  CHECK_FALSE(core.empty());
  CHECK((best == "" || best == "SkylakeX" || best == "Haswell"));
  const bool user_choice = std::getenv("MFX_KEEP_BLAS_CORE") != nullptr;
  if (!best.empty() && !user_choice) {
    CHECK(core != "Prescott");
    CHECK(core != "Core2");
  }
  // And the kernels compute: a small product against its hand value.
  array a = reshape(arange(6, float32), {2, 3});
  test::check_close(matmul(a, transpose(a)), {5, 14, 14, 50}, {2, 2});
}

TEST_CASE("large products split over the thread pool equal a naive product") {
  // Shapes above the split threshold, split by rows (m >= n) and by columns
  // (m < n), with each operand direct or transposed.
  for (auto [m, n] : {std::pair<int64_t, int64_t>{200, 70}, {70, 200}}) {
    const int64_t k = 150;
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        INFO("m " << m << " n " << n << " ta " << ta << " tb " << tb);
        array a0 = random::normal(random::key(1), ta ? Shape{k, m} : Shape{m, k});
        array b0 = random::normal(random::key(2), tb ? Shape{n, k} : Shape{k, n});
        array a = ta ? transpose(a0) : a0, b = tb ? transpose(b0) : b0;
        const auto av = test::values(a), bv = test::values(b);
        std::vector<double> expected(m * n, 0.0);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < k; ++p) acc += av[i * k + p] * bv[p * n + j];
            expected[i * n + j] = acc;
          }
        }
        test::check_close(matmul(a, b), expected, {m, n}, 1e-4, 1e-4);
        test::check_close(matmul(astype(a, float64), astype(b, float64)), expected, {m, n}, 1e-12,
                          1e-12);
      }
    }
  }
}
