// Rolling repeated phases of a kernel (docs/design.md §4.4): the per-image
// loss of each decoder layer is the same code on other buffers, and fused
// into one kernel it made phases that repeat R times, which LLVM compiled R
// times. A run of phases that repeats R times becomes one copy whose phases
// run over a leading domain axis of R repetitions: the locals the run writes
// gain a leading dimension R, and its loads and stores pick each
// repetition's buffer (Expr::choices, Store::choices).
#pragma once

#include "compiler/kernel_ir.h"

namespace mfx::compiler {

/// `kernel` with each run of phases [s, s + R*P) that is R >= 2 repetitions
/// of P phases rolled into P phases. Repetitions must be the same code up to
/// the args and locals they use (lanes equal too), and independent: none
/// reads or writes an arg that another writes, and each reads only locals
/// written before the run or by its own earlier phases. Rolling runs phase j
/// of every repetition before phase j + 1, which independence makes safe, so
/// results are unchanged; later phases read repetition r's locals at index r
/// of the rolled local. Locals take the same memory as before (R copies).
/// Returns the kernel unchanged when nothing repeats.
Kernel roll_phases(const Kernel& kernel);

}  // namespace mfx::compiler
