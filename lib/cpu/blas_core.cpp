// OpenBLAS kernel-set detection and the re-execution that fixes a generic
// fallback (see include/mfx/cpu.h).
#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "mfx/cpu.h"

namespace mfx::cpu {

namespace {

// Whether this process's initialiser set OPENBLAS_CORETYPE (rather than the
// user or a parent that re-executed us).
bool set_here = false;

bool generic_core(const std::string& core) {
  return core == "Prescott" || core == "Core2" || core == "Penryn" || core == "Nehalem" ||
         core == "Unknown";
}

}  // namespace

std::string blas_core() {
  const char* name = openblas_get_corename();
  return name ? std::string(name) : std::string();
}

std::string best_blas_core() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void use_native_blas(int argc, char** argv) {
  if ((std::getenv("OPENBLAS_CORETYPE") && !set_here) || std::getenv("MFX_KEEP_BLAS_CORE")) return;
  const std::string best = best_blas_core();
  if (best.empty() || !generic_core(blas_core())) return;
  ::setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  ::execv("/proc/self/exe", args.data());
  // exec failed: carry on with the generic kernels.
}

namespace {

// Where OpenBLAS is linked into the same object as mfx (the GPU bundle's
// libmfx.so), this runs before OpenBLAS's own initialiser (priority 101 comes
// first), so setting the variable is enough and nothing re-executes.
__attribute__((constructor(101))) void prefer_native_blas() {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("MFX_KEEP_BLAS_CORE")) return;
  const std::string best = best_blas_core();
  if (!best.empty()) {
    ::setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
    set_here = true;
  }
}

}  // namespace

}  // namespace mfx::cpu
