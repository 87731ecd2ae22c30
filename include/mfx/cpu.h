// The CPU backend's settings: the buffer cache that recycles array memory,
// which OpenBLAS kernel set the process runs, and a way for programs to get
// the fast one on CPUs their OpenBLAS does not know.
//
// OpenBLAS picks its kernels from the CPU model when it is loaded. A version
// older than the CPU (Debian 12's 0.3.21 on Emerald Rapids, cpuid model 207)
// falls back to its generic SSE3 "Prescott" kernels: sgemm then runs ~6x
// slower than with the AVX-512 ones the CPU supports. The environment
// variable OPENBLAS_CORETYPE overrides the choice, but only before OpenBLAS
// is loaded.
#pragma once

#include <cstddef>
#include <string>

namespace mfx::cpu {

/// Freed CPU array buffers are kept by size and reused (like the GPU's
/// caching allocator), so eager code does not map and zero fresh pages for
/// every op. The cache holds at most limit_bytes (default: a quarter of the
/// machine's memory, at most 8 GiB; the environment variable
/// MFX_CPU_BUFFER_CACHE_BYTES sets it, 0 turns caching off); a block is
/// reused for a request when it wastes at most a quarter of it. With
/// MFX_CPU_BUFFER_POISON set, every buffer starts as 0xFF bytes (NaN for
/// floats): kernels that read memory they did not write show up.
struct BufferCacheStats {
  size_t requests = 0;           ///< buffers asked for
  size_t hits = 0;               ///< of them served from the cache
  size_t cached_bytes = 0;       ///< held now
  size_t cached_blocks = 0;      ///< held now
  size_t peak_cached_bytes = 0;  ///< most held at once
  size_t limit_bytes = 0;
};
BufferCacheStats buffer_cache_stats();
/// Frees every cached block (arrays in use are unaffected).
void clear_buffer_cache();
/// Sets the limit, freeing cached blocks beyond it (0: no caching).
void set_buffer_cache_limit(size_t bytes);

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
