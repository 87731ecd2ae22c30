// MFX_JIT_PROFILE: per-step times of a jitted program (compiled.h). Its own
// executable, because the variable is read once per process.
#include <cstdlib>
#include <sstream>

#include "grad_check.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

TEST_CASE("MFX_JIT_PROFILE times each step and keeps results equal to eager", "[jit]") {
  ::setenv("MFX_JIT_PROFILE", "1", 1);
  auto f = [](const std::vector<array>& a) {
    return std::vector<array>{sum(exp(matmul(a[0], a[1])), {1}) + 1.0};
  };
  auto jf = jit(f, {.name = "profiled"});
  CHECK(jf.profile().empty());  // no call yet
  array x = rand_like({16, 8}, 31), w = rand_like({8, 4}, 32);
  for (int i = 0; i < 3; ++i) check_close(jf({x, w})[0], values(f({x, w})[0]), {16}, 1e-12, 1e-12);
  const std::string text = jf.profile(5);
  INFO(text);
  CHECK(text.find("profiled: 3 calls") != std::string::npos);
  CHECK(text.find("Matmul") != std::string::npos);  // the library call, as a step
  CHECK(text.find("fused") != std::string::npos);   // and the kernel after it
  CHECK(text.find("-> (16)") != std::string::npos);  // with its output's shape
  // Totals per kind first: the one product and the one fused kernel.
  CHECK(text.find("by kind:") != std::string::npos);
  CHECK(text.find("Matmul x1 ") != std::string::npos);
  CHECK(text.find("fused kernels x1 ") != std::string::npos);
  std::istringstream lines(text);
  int rows = 0;
  for (std::string line; std::getline(lines, line);) {
    rows += line.find(" ms ") != std::string::npos && line.find("by kind:") == std::string::npos;
  }
  CHECK(rows >= 2);
  CHECK(rows <= 5);
  // Then the kernels by compile time: the one fused kernel.
  CHECK(text.find("compiling: 1 kernels") != std::string::npos);
  CHECK(text.find(" phases ") != std::string::npos);
}
