// How a phase's global loads and stores move as its domain indices move:
// the CPU emitter runs a map phase's loops with the axis innermost along
// which its accesses are unit-stride (vector loads and stores, one cache
// line after another) rather than always the last axis.
#pragma once

#include "compiler/kernel_ir.h"

namespace mfx::compiler {

/// The domain axis a map phase's innermost loop should run over. Every
/// load from an argument of more than one element and every store counts
/// against an axis unless its index is invariant along it or moves by
/// exactly one element (indices that are sums of constant multiples of
/// domain indices; a gathered or divided index counts against every axis it
/// depends on; a materialisation into a local counts against all but the
/// last axis). The axis with the fewest such accesses wins, if it spans at
/// least 16 points; ties keep the last axis. Map phases only (their points
/// are independent, so any loop order computes the same values).
int map_inner_axis(const Kernel& kernel, const Phase& phase);

}  // namespace mfx::compiler
