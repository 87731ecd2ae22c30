// The CPU backend's BLAS: which OpenBLAS kernel set the process runs, and a
// way for programs to get the fast one on CPUs their OpenBLAS does not know.
//
// OpenBLAS picks its kernels from the CPU model when it is loaded. A version
// older than the CPU (Debian 12's 0.3.21 on Emerald Rapids, cpuid model 207)
// falls back to its generic SSE3 "Prescott" kernels: sgemm then runs ~6x
// slower than with the AVX-512 ones the CPU supports. The environment
// variable OPENBLAS_CORETYPE overrides the choice, but only before OpenBLAS
// is loaded.
#pragma once

#include <string>

namespace mfx::cpu {

/// The OpenBLAS kernel set in use, e.g. "SkylakeX", "Haswell", "Prescott".
std::string blas_core();

/// The fastest OpenBLAS kernel set this CPU's features allow: "SkylakeX"
/// (AVX-512 F/CD/BW/DQ/VL), "Haswell" (AVX2 and FMA), or "" (leave the
/// choice to OpenBLAS).
std::string best_blas_core();

/// Call first in main, before any thread starts: when OpenBLAS fell back to
/// its generic kernels although best_blas_core() is available, and neither
/// OPENBLAS_CORETYPE nor MFX_KEEP_BLAS_CORE is set, re-executes the program
/// (same arguments and environment plus OPENBLAS_CORETYPE) so that OpenBLAS
/// loads the right kernels. Returns otherwise, and when the re-execution
/// fails. The tools, tests and benchmarks of mfx call it.
void use_native_blas(int argc, char** argv);

}  // namespace mfx::cpu
