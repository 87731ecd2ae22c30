// MFX_EAGER_PROFILE=N: eager evaluation timed op by op (internal). Every
// primitive the scheduler runs adds its wall time under (primitive, output
// shape); at exit the totals per primitive and the N costliest (primitive,
// shape) pairs go to stderr, as MFX_JIT_PROFILE does for compiled steps.
// On the GPU the time is the launch's, not the kernel's.
#pragma once

#include <string>

#include "mfx/array.h"

namespace mfx::detail {

/// Rows a profiling variable asks for: 0 when `variable` is unset or "0",
/// N for N > 1, else 20 (MFX_EAGER_PROFILE here, MFX_JIT_PROFILE in jit).
size_t profile_rows_from_env(const char* variable);

/// profile_rows_from_env("MFX_EAGER_PROFILE"), read once.
size_t eager_profile_rows();

/// Adds one evaluation of `primitive` with first output `shape`.
void eager_profile_add(const std::string& primitive, const Shape& shape, double seconds);

/// The table printed at exit (empty before any evaluation).
std::string eager_profile_text(size_t rows);

}  // namespace mfx::detail
