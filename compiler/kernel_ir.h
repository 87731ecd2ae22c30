// Kernel IR: a fused kernel as the fusion planner describes it and the MLIR
// emitters (CPU and CUDA) consume it. It is target independent: the same
// Kernel lowers to an LLVM function for the CPU and to a gpu.func for PTX.
//
// Shape of a kernel
//   for each point g of `grid` (parallel: CPU chunks / GPU thread blocks):
//     for each phase p in order (sequential, all over the same g):
//       over the points d of p.domain:
//         evaluate p.exprs (SSA, in order) and perform p's effects
//
// Every buffer is addressed as a flat 1-d array of its dtype: the planner
// writes strides, broadcasts, transposes, slices and reshapes as explicit
// int64 index arithmetic (Binary Add/Multiply/FloorDivide/Remainder on int64
// expressions), and gathers as loads whose index is computed from loaded
// values. LLVM folds the constant parts.
//
// Phases
//   Map    : points are independent. Effects: Store to an output argument,
//            Materialize the value at every domain point into a local array
//            whose shape is the phase domain.
//   Reduce : the axes in `reduced_axes` are folded; each Reduction writes one
//            local array whose shape is the domain without the reduced axes
//            (all axes reduced -> a one-element local). No stores.
// Locals live per grid point (registers/stack on the CPU, shared memory on
// the GPU) and are read by later phases with LoadLocal (one int64 index per
// local dimension). Locals are zero-extent-free: every extent is >= 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mfx/dtype.h"
#include "primitives/elementwise.h"
#include "primitives/reduction.h"

namespace mfx::compiler {

/// A global buffer passed to the kernel: `size` elements of `dtype`.
/// Inputs come first in `Kernel::args`, then outputs (written by Stores).
struct KernelArg {
  Dtype dtype;
  int64_t size;
  bool output = false;
};

/// A local array (per grid point): shape and dtype. Locals of different
/// `region`s are never live at the same time (the parts of a stitched
/// kernel run one after another), so the GPU emitter lets regions share
/// shared memory.
struct LocalArray {
  Dtype dtype;
  std::vector<int64_t> shape;
  int region = 0;
  int64_t size() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

enum class ExprKind {
  Const,        // value (double holds ints exactly up to 2^53), dtype
  GridIndex,    // index of grid dimension `axis` (int64)
  DomainIndex,  // index of the phase's domain dimension `axis` (int64)
  Load,         // args[arg][index]            operands: {index}, or {index, choice}
                //   with `choices`: args[choices[choice]][index]
  LoadLocal,    // locals[local][i0, i1, ...]  operands: one index per local dim
  Unary,        // unary_op(a)                 operands: {a}
  Binary,       // binary_op(a, b)             operands: {a, b} (same dtype)
  Select,       // c ? a : b                   operands: {c (bool), a, b}
  Cast,         // a converted to dtype        operands: {a}
};

/// One SSA value of a phase. Operands refer to earlier entries of the same
/// phase's `exprs`. `dtype` is the result type: int64 for indices, bool for
/// comparisons (Binary comparison ops take operands of one dtype).
struct Expr {
  ExprKind kind;
  Dtype dtype;
  std::vector<int> operands;
  double value = 0;  // Const
  int axis = -1;     // GridIndex / DomainIndex
  int arg = -1;      // Load (with `choices`: choices[0])
  /// Load from one of several args of one dtype and size, picked by the int64
  /// expression operands[1] (in [0, choices.size())): the rolled parts of a
  /// stitched kernel (compiler/kernel_roll.h) read each repetition's buffer.
  std::vector<int> choices;
  int local = -1;    // LoadLocal
  UnaryOp unary_op = UnaryOp::Negative;
  BinaryOp binary_op = BinaryOp::Add;
};

/// args[arg][index] = value (Map phases); with `choices`, the arg is
/// choices[choice] for the int64 expression `choice` (as Expr::choices).
struct Store {
  int arg;
  int index;  // expr id (int64)
  int value;  // expr id, dtype == args[arg].dtype
  std::vector<int> choices = {};
  int choice = -1;  // expr id (int64) when `choices` is not empty
};

/// locals[local][domain point] = value (Map phases); the local's shape must
/// equal the phase domain.
struct Materialize {
  int local;
  int value;
};

/// locals[local][kept point] = op over the reduced axes of value (Reduce
/// phases). Sum/Prod/Max/Min on numbers (Max/Min propagate NaN), All/Any on
/// bool. The local's dtype equals the value's dtype.
struct Reduction {
  ReduceOp op;
  int local;
  int value;
};

enum class PhaseKind { Map, Reduce };

struct Phase {
  PhaseKind kind = PhaseKind::Map;
  /// >= 0: the phase runs only at grid points whose grid index 0 equals
  /// `lane` (independent parts of a stitched kernel run side by side in one
  /// launch, one lane each; on the GPU the condition is uniform per block).
  int lane = -1;
  std::vector<int64_t> domain;    // empty: a single point
  std::vector<int> reduced_axes;  // Reduce phases: sorted, subset of domain axes
  std::vector<Expr> exprs;
  std::vector<Store> stores;
  std::vector<Materialize> materializations;
  std::vector<Reduction> reductions;
};

/// A fused kernel.
struct Kernel {
  std::string name;  // a valid C identifier, unique within a compiled module
  std::vector<KernelArg> args;
  std::vector<int64_t> grid;  // parallel dimensions; empty: one instance
  std::vector<LocalArray> locals;
  std::vector<Phase> phases;

  int64_t grid_size() const {
    int64_t n = 1;
    for (auto d : grid) n *= d;
    return n;
  }
};

/// Per local, 1 when a Reduce phase folds every axis of its domain into it:
/// such a local holds one element whatever its shape, and transforms that
/// widen locals (regrid, roll_phases) give it the new dims only.
std::vector<char> full_reduction_locals(const Kernel& kernel);

/// Checks a kernel's internal consistency (operand ids, dtypes, effect kinds
/// per phase, local shapes); throws std::logic_error naming the kernel, phase
/// and expression when something is wrong. Emitters call it first.
void validate(const Kernel& kernel);

/// Human-readable listing of a kernel (for reports and test failures).
std::string to_string(const Kernel& kernel);

}  // namespace mfx::compiler
