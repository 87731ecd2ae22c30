// Shared pieces of the GPU test programs (tests/gpu_*.cpp): failure
// counting, exact comparison against the CPU, and a main that reports
// "skipped: no GPU" (exit 77, ctest's skip code) or runs the cases.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mfx/gpu.h"
#include "mfx/mfx.h"

namespace gpu_check {

inline int failures = 0;

inline void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

/// The GPU result (copied back) equals the CPU result exactly: same shape,
/// dtype and values (every value of these tests is exact as a double).
inline void expect_identical(const mfx::array& gpu_result, const mfx::array& cpu_result,
                             const std::string& what) {
  mfx::array g = mfx::to_device(gpu_result, mfx::Device::cpu());
  expect(g.shape() == cpu_result.shape() && g.dtype() == cpu_result.dtype() &&
             g.to_vector<double>() == cpu_result.to_vector<double>(),
         what);
}

using Cases = std::vector<std::pair<std::string, std::function<void()>>>;

/// Runs the cases (an exception fails its case) and returns the exit code;
/// without a GPU prints why and returns 77.
inline int run(const char* program, const Cases& cases) {
  if (!mfx::gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", mfx::gpu::unavailable_reason().c_str());
    return 77;
  }
  for (const auto& [name, f] : cases) {
    try {
      f();
    } catch (const std::exception& e) {
      ++failures;
      std::printf("FAILED: %s: %s\n", name.c_str(), e.what());
    }
  }
  std::printf("%s: %s\n", program, failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}

}  // namespace gpu_check
