// Recomputing cheap values instead of storing them (Planner::choose_recomputed).
//
// A kernel that stores a value only for later kernels writes it once and the
// readers load it back: on the match-free step, sigmoids and focal-loss
// factors of the [B, N, K] logits written by each layer's kernel for the
// kernel that sums their gradients, tens of megabytes per call. When such a
// value is a few elementwise operations on values that are in memory anyway,
// each reader computes it from those instead (XLA duplicates cheap producers
// into their consumers for the same reason), and the writer stops storing it.
#include <functional>
#include <map>
#include <vector>

#include "compiler/jit/planner.h"

namespace mfx::jit_detail {

namespace {

// What recomputing one element of a node's output costs, in simple operations
// (a transcendental function is a polynomial of about 8; a power is exp(log)).
int op_cost(const Primitive& p) {
  auto* b = dynamic_cast<const Binary*>(&p);
  if (b && b->op() == BinaryOp::Power) return 16;
  if (is_transcendental(p)) return 8;
  auto* u = dynamic_cast<const Unary*>(&p);
  if ((u && (u->op() == UnaryOp::Sqrt || u->op() == UnaryOp::Rsqrt)) ||
      (b && b->op() == BinaryOp::Divide)) {
    return 2;
  }
  return 1;
}

}  // namespace

void Planner::choose_recomputed() {
  std::vector<std::vector<int>> consumers(g_.values.size());
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    for (int u : g_.nodes[i].inputs) consumers[u].push_back(static_cast<int>(i));
  }
  std::vector<char> is_output(g_.values.size(), 0);
  for (int v : g_.outputs) is_output[v] = 1;

  // Cost of computing v where it is read: 0 in memory, else its operations,
  // or -1 when it cannot be computed from values in memory by elementwise
  // operations alone (a reduction, a concatenation, a view of a member).
  std::map<int, int> memo;
  std::function<int(int)> cost = [&](int v) -> int {
    if (kind_[v] != ValueKind::Member || materialize_reason_.count(v)) return 0;
    if (auto it = memo.find(v); it != memo.end()) return it->second;
    const auto& n = g_.nodes[producer_[v]];
    int c = -1;
    if (is_elementwise(*n.prim) && n.outputs.size() == 1) {
      c = op_cost(*n.prim);
      for (int u : n.inputs) {
        const int cu = g_.values[u].shape.size() == g_.values[v].shape.size() ? cost(u) : -1;
        if (cu < 0) {
          c = -1;
          break;
        }
        c += cu;
      }
    }
    return memo[v] = c;
  };

  // Values in topological order, so a value's cone is settled before its readers'.
  for (int v = 0; v < static_cast<int>(g_.values.size()); ++v) {
    auto reason = materialize_reason_.find(v);
    if (reason == materialize_reason_.end() || reason->second != "OTHER_KERNEL_CONSUMER" ||
        is_output[v] || kind_[v] != ValueKind::Member) {
      continue;
    }
    // Every reader must be a kernel's member that computes elementwise at the
    // same rank (not a library call or a view step, which need it in memory).
    const int home = group_of_value_[v];
    int readers = 0;
    bool fits = !consumers[v].empty();
    for (int c : consumers[v]) {
      if (group_of_node_[c] < 0) fits = false;
      if (group_of_node_[c] != home) ++readers;
    }
    if (!fits) continue;
    // Priced as if not stored (a stored value costs 0); kept if too dear.
    materialize_reason_.erase(reason);
    const int c = cost(v);
    if (c < 0 || c > kMaxRecomputeCost || c * readers > kMaxRecomputeWork) {
      materialize_reason_.emplace(v, "OTHER_KERNEL_CONSUMER");
      continue;
    }
    not_stored_.push_back(v);
  }
  // Every member value read by another group and no longer stored is
  // recomputed there, with the members of its cone that are not stored either.
  std::function<void(int)> mark = [&](int v) {
    if (kind_[v] != ValueKind::Member || materialize_reason_.count(v)) return;
    if (!recomputed_.insert(v).second) return;
    for (int u : g_.nodes[producer_[v]].inputs) mark(u);
  };
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const int grp = group_of_node_[i];
    if (grp < 0) continue;
    for (int u : g_.nodes[i].inputs) {
      if (kind_[u] == ValueKind::Member && group_of_value_[u] != grp) mark(u);
    }
  }
}

}  // namespace mfx::jit_detail
