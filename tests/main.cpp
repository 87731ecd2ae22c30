// The shared test main. MFX_TEST_DEVICE=gpu runs a suite with the GPU as
// the default device (arrays the tests create live there; results are read
// back to compare with the expected values); without a GPU it exits 77,
// which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mfx/cpu.h"
#include "mfx/device.h"
#include "mfx/gpu.h"

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  if (const char* d = std::getenv("MFX_TEST_DEVICE"); d && std::string(d) == "gpu") {
    if (!mfx::gpu::is_available()) {
      std::printf("skipped: MFX_TEST_DEVICE=gpu but no GPU (%s)\n",
                  mfx::gpu::unavailable_reason().c_str());
      return 77;
    }
    mfx::set_default_device(mfx::Device::gpu());
  }
  return Catch::Session().run(argc, argv);
}
