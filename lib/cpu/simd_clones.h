// Function multi-versioning for hot CPU loops (internal): GCC on x86-64
// builds the function for AVX-512 (x86-64-v4), AVX2+FMA (x86-64-v3) and the
// SSE2 baseline, and the loader picks the best the CPU has. Integer code and
// code whose every floating operation rounds once (fma included) gives the
// same bits in every clone; a loop GCC may contract into FMAs can differ in
// the last bit between the baseline and the FMA clones.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MFX_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MFX_SIMD_CLONES
#endif
