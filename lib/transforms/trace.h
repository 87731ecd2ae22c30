// Tracing state and the graph walk shared by the transforms (internal).
#pragma once

#include <unordered_map>
#include <vector>

#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::transforms {

/// True while a transform traces a function: eval() then keeps graph edges so
/// the transform can still walk them.
bool tracing();

/// Marks a tracing region (nests).
class TraceScope {
 public:
  TraceScope();
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
};

/// A fresh graph node standing for `x`: a view whose identity marks where
/// a transform's inputs enter the traced graph.
array trace_input(const array& x);

/// The nodes between `outputs` and the `inputs` (nodes on some path from an
/// input to an output), in topological order (inputs first); multi-output
/// primitives appear once. `depends` holds every visited node id and whether
/// it depends on an input.
struct DependentGraph {
  std::vector<array> order;
  std::unordered_map<uintptr_t, bool> depends;
};
DependentGraph dependent_nodes(const std::vector<array>& outputs, const std::vector<array>& inputs);

/// Positions of a node's inputs that depend on the traced inputs, given the
/// set of dependent node ids.
std::vector<int> dependent_argnums(const array& node,
                                   const std::unordered_map<uintptr_t, bool>& dependent);

}  // namespace mfx::transforms
