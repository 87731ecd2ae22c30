// The fusion planner's vocabulary (internal to compiler/jit): how a value is
// held, a group of nodes that becomes one generated kernel, and which
// primitives fuse as what. Shared by the grouping (planner.cpp) and the
// kernel emission (kernel_emitter.cpp).
#pragma once

#include <set>
#include <vector>

#include "mfx/array.h"
#include "primitives/elementwise.h"
#include "primitives/indexing.h"
#include "primitives/shape.h"
#include "primitives/view.h"

namespace mfx::jit_detail {

/// Materialized: in memory (an input, constant, library result, or a value
/// a kernel stores). Inline: a view, gather or pad read through by index
/// arithmetic. Member: computed inside a group's kernel.
enum class ValueKind { Materialized, Inline, Member };

/// Fuses as one expression per element.
inline bool is_elementwise(const Primitive& p) {
  return dynamic_cast<const Unary*>(&p) || dynamic_cast<const Binary*>(&p) ||
         dynamic_cast<const Select*>(&p) || dynamic_cast<const AsType*>(&p) ||
         dynamic_cast<const StopGradient*>(&p);
}
/// A function evaluated as a polynomial or a library call (tens of
/// operations per element): worth computing once, not again per reader.
inline bool is_transcendental(const Primitive& p) {
  if (auto* un = dynamic_cast<const Unary*>(&p)) {
    switch (un->op()) {
      case UnaryOp::Exp:
      case UnaryOp::Log:
      case UnaryOp::Log1p:
      case UnaryOp::Expm1:
      case UnaryOp::Sin:
      case UnaryOp::Cos:
      case UnaryOp::Tan:
      case UnaryOp::Arctan:
      case UnaryOp::Tanh:
      case UnaryOp::Sigmoid:
      case UnaryOp::Erf:
      case UnaryOp::Erfinv:
        return true;
      default:
        return false;
    }
  }
  auto* bin = dynamic_cast<const Binary*>(&p);
  return bin && (bin->op() == BinaryOp::Power || bin->op() == BinaryOp::Arctan2);
}
/// Reads its input's elements in another order: fuses as index arithmetic.
inline bool is_view(const Primitive& p) {
  return dynamic_cast<const Reshape*>(&p) || dynamic_cast<const Transpose*>(&p) ||
         dynamic_cast<const Slice*>(&p) || dynamic_cast<const Broadcast*>(&p);
}

/// A concatenation of a few inputs fuses as a select between their loads.
constexpr size_t kMaxFusedConcatInputs = 8;
inline const Concatenate* fusable_concat(const Primitive& p, size_t inputs) {
  auto* c = dynamic_cast<const Concatenate*>(&p);
  return c && inputs <= kMaxFusedConcatInputs ? c : nullptr;
}

/// Fuses as an indexed load in its consumers (indices range-checked).
inline bool is_gather(const Primitive& p) {
  return dynamic_cast<const Gather*>(&p) || dynamic_cast<const GatherAxis*>(&p);
}

/// A future kernel: nodes over one iteration space (fixed by its first node).
struct Group {
  Shape space;
  std::vector<int> members;  // node indices, topological
  std::set<int> deps;        // groups this one reads values from (direct)
  std::set<int> reduced;     // space axes some member reduction folds

  // Grid points (parallel instances) if `more` axes were folded too.
  int64_t grid_size_with(const std::set<int>& more) const {
    int64_t n = 1;
    for (int a = 0; a < static_cast<int>(space.size()); ++a) {
      if (!reduced.count(a) && !more.count(a)) n *= space[a];
    }
    return n;
  }
};

}  // namespace mfx::jit_detail
