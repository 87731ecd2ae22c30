// The BLAS kernel set: the test main calls cpu::use_native_blas, so on a CPU
// with AVX2 or AVX-512 this process must run OpenBLAS's matching kernels,
// not its generic fallback.
#include <cstdlib>

#include "mfx/cpu.h"
#include "mfx/ops.h"
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
