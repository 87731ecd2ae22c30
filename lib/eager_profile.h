// MFX_EAGER_PROFILE=N: eager evaluation timed op by op (internal). Every
// primitive the scheduler runs adds its wall time under (primitive, output
// shape); at exit the totals per primitive and the N costliest (primitive,
// shape) pairs go to stderr, as MFX_JIT_PROFILE does for compiled steps.
// On the GPU the time is the launch's, not the kernel's.
#pragma once

#include <string>

#include "mfx/array.h"

namespace mfx::detail {

/// Rows to print at exit: 0 when MFX_EAGER_PROFILE is unset or "0", N for
/// MFX_EAGER_PROFILE=N > 1, else 20.
size_t eager_profile_rows();

/// Adds one evaluation of `primitive` with first output `shape`.
void eager_profile_add(const std::string& primitive, const Shape& shape, double seconds);

/// The table printed at exit (empty before any evaluation).
std::string eager_profile_text(size_t rows);

}  // namespace mfx::detail
