// The traced program of a jitted function (internal): values, the primitive
// nodes between them, captured constants, and the simplifications applied
// before planning (no-op removal, structural CSE, dead-code elimination).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mfx/array.h"
#include "mfx/primitive.h"
#include "mfx/transforms.h"

namespace mfx::jit_detail {

struct Graph {
  struct Value {
    Shape shape;
    Dtype dtype;
  };
  struct Node {
    std::shared_ptr<Primitive> prim;
    std::vector<int> inputs;   // value ids
    std::vector<int> outputs;  // value ids, one per primitive output
  };
  struct Constant {
    int value;
    array data;  // evaluated
  };

  std::vector<Value> values;
  std::vector<int> inputs;  // value ids of the function's arguments
  std::vector<Constant> constants;
  std::vector<Node> nodes;  // topological order
  std::vector<int> outputs;

  int add_value(const Shape& shape, Dtype dtype) {
    values.push_back({shape, dtype});
    return static_cast<int>(values.size()) - 1;
  }
};

/// What simplify() removed, for the fusion report.
struct SimplifyStats {
  int traced_nodes = 0;
  int noops_removed = 0;
  int cse_merged = 0;
  int dead_removed = 0;
  int constants = 0;
};

/// Traces f on placeholder arguments of the given shapes and dtypes. Parts
/// of the program that do not depend on the arguments are evaluated now and
/// become constants (constant folding). Throws std::invalid_argument when f
/// evaluates a value that depends on its arguments (e.g. item()).
Graph trace(const ArrayFn& f, const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes,
            const std::string& name);

/// The graph without identity nodes (same-shape reshape/broadcast, same-type
/// casts, identity transposes/slices, stop_gradient), with structurally
/// equal nodes merged, unused nodes dropped, and constants that are one
/// broadcast element stored as that element plus a Broadcast node (read by
/// index arithmetic in kernels). Differentiation and
/// batching use the original trace; execution uses this one.
Graph simplify(const Graph& graph, SimplifyStats* stats);

/// Rebuilds the graph lazily on `inputs` (one per graph input), returning
/// the outputs: the same primitives applied to new arrays.
std::vector<array> replay(const Graph& graph, const std::vector<array>& inputs);
/// The same with the graph's constants replaced by `constants` (one per
/// graph constant, in order): device copies when the inputs live on a GPU.
/// `after_node`, when given, is called with each node's index and its new
/// outputs as soon as they are made (the profiler evaluates them there).
std::vector<array> replay(
    const Graph& graph, const std::vector<array>& inputs, const std::vector<array>& constants,
    const std::function<void(size_t node, std::vector<array>& outputs)>& after_node = {});

}  // namespace mfx::jit_detail
