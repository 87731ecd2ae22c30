// Block fusion (docs/design.md §4.3): fused kernels whose grids
// start with the same batch axis (one image) and that pass values to each
// other only within one batch element become one kernel, one grid point per
// batch element running all of their phases in order (internal).
#pragma once

#include <vector>

#include "compiler/jit/graph.h"
#include "compiler/kernel_ir.h"

namespace mfx::jit_detail {

/// A fused kernel as the planner built it, with what block fusion needs to
/// know about how it touches memory.
struct KernelCandidate {
  const compiler::Kernel* kernel;
  std::vector<int> args;  // value ids of its input args (in arg order)
  std::vector<int> outs;  // value ids of its output args (after the inputs)
  /// Per input arg: how many leading dims every load reads at the kernel's
  /// own grid point (dim i indexed by grid axis i).
  std::vector<int> load_prefix;
  /// Per output: how many leading dims every store writes at the kernel's
  /// own grid point.
  std::vector<int> store_prefix;
  /// Input args whose values are range-checked gather indices (the check
  /// runs on the host before the launch, so they must come from outside).
  std::vector<int> checked_args;
};

struct BlockFusionLimits {
  int64_t min_batch = 2;                // a batch axis of fewer elements is not worth it
  int64_t max_local_bytes = 227 << 10;  // locals per grid point (sm_90 shared memory per block)
  int64_t max_block_points = 1 << 20;   // points of the largest phase per grid point
  bool locals_alias = false;            // stitched parts share local memory (max, not sum)
  size_t max_args = 4000;  // buffers of one kernel (PTX 8.1 takes 32 KiB of parameters)
};

/// The steps of a plan around the candidates: which step produces each
/// value and which steps each step reads from.
struct BlockGraph {
  std::vector<int> step_of;             // candidate -> step id
  std::vector<std::vector<int>> preds;  // step id -> direct predecessor step ids
  std::vector<int> producer_step;       // value id -> step id (-1: input/constant)
  std::vector<std::vector<int64_t>> value_shapes;
};

/// Partitions `kernels` (given in an executable order) into blocks to stitch:
/// a kernel joins a block when its grid starts with the block's batch extent,
/// every value it reads from the block was stored and is loaded per batch
/// element, no step outside the block lies between them, and the regridded
/// locals and phases stay within `limits`. Returns groups of kernel indices
/// (each in order); singletons are kernels left as they are.

std::vector<std::vector<int>> plan_blocks(const std::vector<KernelCandidate>& kernels,
                                          const BlockGraph& graph, const BlockFusionLimits& limits);

/// The graph with every reduction over the batch axis 0 (extent >=
/// `min_batch`) and over other axes split in two: first the other axes (one
/// partial result per batch element, which can join the element's block),
/// then axis 0 (a small kernel). Other nodes are unchanged.
Graph split_batch_reductions(const Graph& graph, int64_t min_batch);

}  // namespace mfx::jit_detail
