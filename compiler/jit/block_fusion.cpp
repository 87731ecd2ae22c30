// Which fused kernels stitch into one per-batch-element kernel (see
// block_fusion.h). Greedy over an executable order: a kernel joins the earliest
// compatible block (work independent of later blocks gathers in the first
// one), else it starts one.
#include "compiler/jit/block_fusion.h"

#include <algorithm>
#include <map>
#include <set>

#include "compiler/kernel_stitch.h"
#include "primitives/reduction.h"

namespace mfx::jit_detail {

namespace {

int64_t product(const std::vector<int64_t>& v, size_t from) {
  int64_t n = 1;
  for (size_t i = from; i < v.size(); ++i) n *= v[i];
  return n;
}

// Locals and largest phase per grid point once only grid axis 0 is left.
std::pair<int64_t, int64_t> regridded_size(const compiler::Kernel& k) {
  const int64_t moved = product(k.grid, 1);
  int64_t points = 1;
  for (const auto& ph : k.phases) points = std::max(points, product(ph.domain, 0));
  return {compiler::local_bytes(k) * moved, points * moved};
}

struct Block {
  int64_t batch;
  int64_t local_bytes = 0;
  std::vector<int> members;  // kernel indices
  std::set<int> steps;       // their step ids
  std::set<int> buffers;     // values the stitched kernel would take
};

}  // namespace

std::vector<std::vector<int>> plan_blocks(const std::vector<KernelCandidate>& kernels,
                                          const BlockGraph& graph,
                                          const BlockFusionLimits& limits) {
  std::vector<Block> blocks;
  std::map<int, int> kernel_of_step;
  for (size_t i = 0; i < kernels.size(); ++i) kernel_of_step[graph.step_of[i]] = i;

  // Can kernel i read everything it takes from block b inside one grid point?
  auto reads_locally = [&](int i, const Block& b) {
    const KernelCandidate& c = kernels[i];
    for (size_t a = 0; a < c.args.size(); ++a) {
      const int v = c.args[a];
      const int ps = graph.producer_step[v];
      if (ps < 0 || !b.steps.count(ps)) continue;
      if (c.load_prefix[a] < 1 || graph.value_shapes[v].empty() ||
          graph.value_shapes[v][0] != b.batch) {
        return false;
      }
      if (std::find(c.checked_args.begin(), c.checked_args.end(), static_cast<int>(a)) !=
          c.checked_args.end()) {
        return false;
      }
      const KernelCandidate& p = kernels[kernel_of_step.at(ps)];
      auto o = std::find(p.outs.begin(), p.outs.end(), v);
      if (o == p.outs.end() || p.store_prefix[o - p.outs.begin()] < 1) return false;
    }
    return true;
  };
  // No step outside block b may sit between one of its members and kernel i:
  // a walk upstream from i's other inputs, treating every block formed so far
  // as one step (its members' inputs are its inputs), must not reach b.
  std::vector<int> block_of_step(graph.preds.size(), -1);
  auto no_detour = [&](int i, int b) {
    std::vector<int> stack;
    std::vector<char> seen(graph.preds.size(), 0);
    for (int p : graph.preds[graph.step_of[i]]) {
      if (block_of_step[p] != b) stack.push_back(p);
    }
    while (!stack.empty()) {
      int s = stack.back();
      stack.pop_back();
      if (seen[s]) continue;
      seen[s] = 1;
      if (block_of_step[s] == b) return false;
      if (block_of_step[s] >= 0) {
        for (int m : blocks[block_of_step[s]].steps) {
          for (int p : graph.preds[m]) stack.push_back(p);
        }
      } else {
        for (int p : graph.preds[s]) stack.push_back(p);
      }
    }
    return true;
  };

  std::vector<std::vector<int>> out;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const compiler::Kernel& k = *kernels[i].kernel;
    auto [bytes, points] = regridded_size(k);
    const bool eligible = !k.grid.empty() && k.grid[0] >= limits.min_batch &&
                          bytes <= limits.max_local_bytes && points <= limits.max_block_points;
    bool joined = false;
    for (int b = 0; eligible && b < static_cast<int>(blocks.size()) && !joined; ++b) {
      Block& blk = blocks[b];
      const int64_t together =
          limits.locals_alias ? std::max(blk.local_bytes, bytes) : blk.local_bytes + bytes;
      if (blk.batch != k.grid[0] || together > limits.max_local_bytes) continue;
      std::set<int> buffers = blk.buffers;
      buffers.insert(kernels[i].args.begin(), kernels[i].args.end());
      buffers.insert(kernels[i].outs.begin(), kernels[i].outs.end());
      if (buffers.size() > limits.max_args) continue;
      if (!reads_locally(static_cast<int>(i), blk) || !no_detour(static_cast<int>(i), b)) {
        continue;
      }
      blk.members.push_back(static_cast<int>(i));
      blk.steps.insert(graph.step_of[i]);
      blk.local_bytes = together;
      blk.buffers = std::move(buffers);
      block_of_step[graph.step_of[i]] = b;
      joined = true;
    }
    if (joined) continue;
    if (eligible) {
      block_of_step[graph.step_of[i]] = static_cast<int>(blocks.size());
      Block fresh{k.grid[0], bytes, {static_cast<int>(i)}, {graph.step_of[i]}, {}};
      fresh.buffers.insert(kernels[i].args.begin(), kernels[i].args.end());
      fresh.buffers.insert(kernels[i].outs.begin(), kernels[i].outs.end());
      blocks.push_back(std::move(fresh));
    } else {
      out.push_back({static_cast<int>(i)});
    }
  }
  for (auto& b : blocks) out.push_back(b.members);
  return out;
}

namespace {

// Partial results are stored in the output dtype, but the eager kernels
// accumulate whole float sums and products in float64: a float16 or float32
// partial product (or a half partial sum) can overflow to inf where the full
// result is finite, and inf * 0 is NaN where eager gives 0.
bool partials_may_overflow(const Reduce& r) {
  const Dtype t = r.out_dtype();
  if (!is_floating(t) || t == float64) return false;
  return r.op() == ReduceOp::Prod ||
         (r.op() == ReduceOp::Sum && (t == float16 || t == bfloat16));
}

}  // namespace

Graph split_batch_reductions(const Graph& graph, int64_t min_batch) {
  Graph out = graph;
  out.nodes.clear();
  for (const auto& n : graph.nodes) {
    const auto* r = dynamic_cast<const Reduce*>(n.prim.get());
    const Shape* in = r ? &graph.values[n.inputs[0]].shape : nullptr;
    // An empty input has nothing to batch, and its partial (the input with the
    // other reduced dims set to 1) can hold far more elements than the input
    // (x: (2^51,0,0,3) gives a (2^51,1,1,1) partial), more than an array may.
    // A non-empty input's partial never has more elements than the input.
    const bool empty = in && std::find(in->begin(), in->end(), 0) != in->end();
    bool split = r && !empty && in->size() >= 2 && (*in)[0] >= min_batch &&
                 r->axes().front() == 0 && !partials_may_overflow(*r);
    std::vector<int> rest;
    if (split) {
      for (int a : r->axes()) {
        if (a != 0 && (*in)[a] > 1) rest.push_back(a);
      }
      split = !rest.empty();
    }
    if (!split) {
      out.nodes.push_back(n);
      continue;
    }
    std::vector<int> first(r->axes().begin() + 1, r->axes().end());
    Shape partial = *in;
    for (int a : first) partial[a] = 1;
    const int p = out.add_value(partial, r->out_dtype());
    out.nodes.push_back({std::make_shared<Reduce>(r->op(), first, r->out_dtype()), n.inputs, {p}});
    out.nodes.push_back(
        {std::make_shared<Reduce>(r->op(), std::vector<int>{0}, r->out_dtype()), {p}, n.outputs});
  }
  return out;
}

}  // namespace mfx::jit_detail
