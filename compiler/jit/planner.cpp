// Fusion grouping (Planner): which nodes share a generated kernel.
//
// One forward pass over the simplified graph assigns every
// elementwise/reduction node to a group (a future kernel) whose iteration
// space S is fixed by its first node; views of materialised values are
// inlined as index arithmetic wherever they are read. Reductions keep the
// group open: a reduction over axes R of a value aligned with S makes R
// "domain" axes (iterated inside one grid point) and its result a local that
// later nodes of the same group read back (x - max(x), a / sum(a)).
//
// A node joins a group when its shape is aligned with S (same rank, every
// dim 1 or S's), when doing so creates no cycle between groups, and when the
// values it reads from other groups can be stored by them. Everything else
// becomes a library/primitive step with a reason code.
#include <algorithm>

#include "compiler/jit/planner.h"
#include "compiler/jit/small_contractions.h"
#include "cpu/parallel.h"
#include "primitives/reduction.h"

namespace mfx::jit_detail {

namespace {

bool aligned(const Shape& s, const Shape& space) {
  if (s.size() != space.size()) return false;
  for (size_t a = 0; a < s.size(); ++a) {
    if (s[a] != 1 && s[a] != space[a]) return false;
  }
  return true;
}

// Folding a parallel axis must not leave a big kernel with fewer grid
// points than the CPU has threads to share them (its body would run on one
// thread); a GPU plan will use its SM count instead.
constexpr int64_t kBigKernelPoints = 1 << 12;

bool starves_parallelism(const Group& g, const std::set<int>& folds) {
  const int64_t kMinParallelGrid = 2 * std::max(1, cpu::num_threads());
  int64_t before = g.grid_size_with({});
  int64_t after = g.grid_size_with(folds);
  int64_t points = 1;
  for (auto d : g.space) points *= d;
  return after < before && after < kMinParallelGrid && before >= kMinParallelGrid &&
         points >= kBigKernelPoints && g.members.size() > 1;
}

// A big group whose reductions already folded its grid below twice the
// thread count has too few grid points to keep the threads busy: work
// independent of it does not join it (it would be serialised with it, not
// run in parallel in a kernel of its own).
bool serial_group(const Group& g) {
  const int64_t kMinParallelGrid = 2 * std::max(1, cpu::num_threads());
  int64_t points = 1;
  for (auto d : g.space) points *= d;
  return !g.members.empty() && points >= kBigKernelPoints &&
         g.grid_size_with({}) < kMinParallelGrid && g.grid_size_with({}) < points;
}

// A reduction over many rows that keeps the innermost axis (a column sum
// such as a bias gradient) would walk memory with a row stride in every grid
// point; the library reduction streams the rows instead. From 256 rows: six
// such sums over 800 rows, stitched into one kernel gridded over columns,
// took 30 % of the match-free step at N = 100, M = 8.
constexpr int64_t kLongStridedReduction = 1 << 8;

bool long_strided_reduction(const Shape& space, const std::set<int>& folds) {
  int inner = -1;
  int64_t points = 1, extent = 1;
  for (int a = 0; a < static_cast<int>(space.size()); ++a) {
    points *= space[a];
    if (space[a] > 1) inner = a;
    if (folds.count(a)) extent *= space[a];
  }
  return inner >= 0 && !folds.count(inner) && points >= kBigKernelPoints &&
         extent >= kLongStridedReduction;
}

// The axes of `shape` in the space when every dim is 1 or the space's.
std::optional<std::vector<int>> identity_axes(const Shape& shape, const Shape& space) {
  if (!aligned(shape, space)) return std::nullopt;
  std::vector<int> m(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) m[i] = static_cast<int>(i);
  return m;
}

// A mapping is valid when every dim of size > 1 sits on a distinct space axis
// of the same extent.
bool valid_axes(const Shape& shape, const std::vector<int>& m, const Shape& space) {
  std::set<int> used;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (m[i] < 0 || shape[i] != space[m[i]] || !used.insert(m[i]).second) return false;
  }
  return true;
}

// Dims still without an axis (-2) take the same-position axis when the ranks
// agree; size-1 dims may stay unmapped (-1).
bool fill_positional(const Shape& shape, std::vector<int>& m, const Shape& space) {
  std::set<int> used;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (m[i] >= 0 && shape[i] > 1) used.insert(m[i]);
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (m[i] != -2) continue;
    if (shape[i] == 1) {
      m[i] = -1;
    } else if (shape.size() == space.size() && space[i] == shape[i] &&
               !used.count(static_cast<int>(i))) {
      m[i] = static_cast<int>(i);
      used.insert(m[i]);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

// The axes the node's reference value (its output; a reduction's input)
// would have in group `grp`, derived from the axes of its member inputs.
std::optional<std::vector<int>> Planner::map_into(int node, int grp) const {
  const auto& n = g_.nodes[node];
  const Primitive& p = *n.prim;
  const Shape& space = groups_[grp].space;
  auto member_of_grp = [&](int u) {
    return kind_[u] == ValueKind::Member && group_of_value_[u] == grp;
  };
  if (fusable_concat(p, n.inputs.size())) {
    // Its inputs are loaded at shifted indices: none may be a member here.
    for (int u : n.inputs) {
      if (member_of_grp(u)) return std::nullopt;
    }
    return identity_axes(g_.values[n.outputs[0]].shape, space);
  }
  if (dynamic_cast<const Reduce*>(&p) || is_elementwise(p)) {
    const bool red = dynamic_cast<const Reduce*>(&p) != nullptr;
    const Shape& shape = red ? g_.values[n.inputs[0]].shape : g_.values[n.outputs[0]].shape;
    std::vector<int> m(shape.size(), -2);
    bool any = false;
    for (int u : n.inputs) {
      if (!member_of_grp(u)) continue;
      any = true;
      const auto& ua = vaxes_[u];
      for (size_t i = 0; i < shape.size(); ++i) {
        if (ua[i] < 0) continue;
        if (m[i] >= 0 && m[i] != ua[i]) return std::nullopt;
        m[i] = ua[i];
      }
    }
    if (!any) return identity_axes(shape, space);
    if (!fill_positional(shape, m, space) || !valid_axes(shape, m, space)) return std::nullopt;
    return m;
  }
  // Views of a member: the same elements, so the same space points.
  const int u = n.inputs[0];
  if (!member_of_grp(u)) return std::nullopt;
  const Shape& in = g_.values[u].shape;
  const Shape& out = g_.values[n.outputs[0]].shape;
  const auto& ua = vaxes_[u];
  std::vector<int> m(out.size(), -2);
  if (auto* t = dynamic_cast<const Transpose*>(&p)) {
    for (size_t i = 0; i < out.size(); ++i) m[i] = ua[t->axes()[i]];
  } else if (dynamic_cast<const Broadcast*>(&p)) {
    size_t off = out.size() - in.size();
    for (size_t j = off; j < out.size(); ++j) {
      size_t k = j - off;
      if (in[k] == out[j] || (ua[k] >= 0 && space[ua[k]] == out[j])) m[j] = ua[k];
    }
  } else if (dynamic_cast<const Reshape*>(&p)) {
    // Only reshapes that add or remove size-1 dims keep the elements in place.
    std::vector<size_t> in_big, out_big;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] != 1) in_big.push_back(i);
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] != 1) out_big.push_back(i);
    }
    if (in_big.size() != out_big.size()) return std::nullopt;
    for (size_t k = 0; k < in_big.size(); ++k) {
      if (in[in_big[k]] != out[out_big[k]]) return std::nullopt;
      m[out_big[k]] = ua[in_big[k]];
    }
  } else {
    return std::nullopt;
  }
  if (!fill_positional(out, m, space) || !valid_axes(out, m, space)) return std::nullopt;
  return m;
}

bool Planner::can_join(int node, int grp) const {
  if (target_ == PlanTarget::CpuProgram && serial_group(groups_[grp])) {
    bool reads_member = false;
    for (int u : g_.nodes[node].inputs) {
      reads_member = reads_member || (kind_[u] == ValueKind::Member && group_of_value_[u] == grp);
    }
    if (!reads_member) return false;
  }
  auto m = map_into(node, grp);
  if (!m) return false;
  if (auto* r = dynamic_cast<const Reduce*>(g_.nodes[node].prim.get())) {
    std::set<int> folds;
    const Shape& in = g_.values[g_.nodes[node].inputs[0]].shape;
    for (int d : r->axes()) {
      if (in[d] > 1) folds.insert((*m)[d]);
    }
    if (starves_parallelism(groups_[grp], folds)) return false;
    // Under block fusion a group reducing within batch elements stays per
    // element; the batch reduction of its partials is a small kernel of its own.
    const Group& g = groups_[grp];
    if (options_.block_fusion && target_ != PlanTarget::SingleKernel && folds.count(0) &&
        !g.reduced.empty() && !g.reduced.count(0) && g.space[0] > 1) {
      return false;
    }
    if (target_ == PlanTarget::CpuProgram && long_strided_reduction(groups_[grp].space, folds)) {
      return false;
    }
  }
  for (int u : g_.nodes[node].inputs) {
    if (kind_[u] == ValueKind::Member && group_of_value_[u] == grp) continue;
    for (int d : deps_of(u)) {
      if (d == grp || reaches(d, grp)) return false;  // would need grp before and after d
    }
  }
  return true;
}

void Planner::join(int node, int grp) {
  const auto& n = g_.nodes[node];
  std::vector<int> m = *map_into(node, grp);
  if (auto* r = dynamic_cast<const Reduce*>(n.prim.get())) {
    red_in_axes_[node] = m;
    const Shape& in = g_.values[n.inputs[0]].shape;
    for (int d : r->axes()) {
      if (in[d] > 1) groups_[grp].reduced.insert(m[d]);
    }
  }
  for (int v : n.outputs) vaxes_[v] = m;
  for (int u : n.inputs) {
    if (kind_[u] == ValueKind::Member && group_of_value_[u] == grp) continue;
    if (kind_[u] == ValueKind::Member) materialize(u, "OTHER_KERNEL_CONSUMER");
    for (int d : deps_of(u)) groups_[grp].deps.insert(d);
  }
  groups_[grp].members.push_back(node);
  group_of_node_[node] = grp;
  for (int v : n.outputs) {
    kind_[v] = ValueKind::Member;
    group_of_value_[v] = grp;
  }
}

// Merges group `from` into `into` when they share an iteration space and
// neither depends on the other (independent work in one launch).
bool Planner::try_merge(int into, int from) {
  if (into == from || groups_[into].space != groups_[from].space) return false;
  if (reaches(into, from) || reaches(from, into)) return false;
  if (target_ == PlanTarget::CpuProgram &&
      (serial_group(groups_[into]) || serial_group(groups_[from]))) {
    return false;
  }
  if (starves_parallelism(groups_[into], groups_[from].reduced) ||
      starves_parallelism(groups_[from], groups_[into].reduced)) {
    return false;
  }
  Group& a = groups_[into];
  Group& b = groups_[from];
  a.reduced.insert(b.reduced.begin(), b.reduced.end());
  for (int node : b.members) {
    group_of_node_[node] = into;
    for (int v : g_.nodes[node].outputs) group_of_value_[v] = into;
  }
  a.members.insert(a.members.end(), b.members.begin(), b.members.end());
  std::sort(a.members.begin(), a.members.end());
  a.deps.insert(b.deps.begin(), b.deps.end());
  b.members.clear();
  b.deps.clear();
  for (auto& other : groups_) {
    if (other.deps.erase(from)) other.deps.insert(into);
  }
  a.deps.erase(into);
  return true;
}

void Planner::assign(int node) {
  const auto& n = g_.nodes[node];
  const Primitive& p = *n.prim;
  auto non_member_deps = [&] {
    std::set<int> d;
    for (int u : n.inputs) {
      auto s = deps_of(u);
      d.insert(s.begin(), s.end());
    }
    return d;
  };
  const auto* reduce = dynamic_cast<const Reduce*>(&p);
  // A view of a member joins its group when it keeps elements on the same
  // space points (transpose, broadcast, size-1 reshapes).
  bool positional_view = false;
  if (is_view(p) && kind_[n.inputs[0]] == ValueKind::Member) {
    int grp = group_of_value_[n.inputs[0]];
    if (can_join(node, grp)) {
      join(node, grp);
      return;
    }
  }
  if (is_view(p)) {
    int u = n.inputs[0];
    if (kind_[u] == ValueKind::Member) materialize(u, "VIEW_CONSUMER");
    kind_[n.outputs[0]] = ValueKind::Inline;
    value_deps_[n.outputs[0]] = non_member_deps();
    return;
  }
  // Checked indices (small_contractions.h) are read through like a view; the
  // kernel checks the value in memory they view.
  if (dynamic_cast<const RangeCheckedIndex*>(&p)) {
    const int u = n.inputs[0];
    if (kind_[u] == ValueKind::Member) materialize(u, "GATHER_OR_PAD_OPERAND");
    if (kind_[u] != ValueKind::Inline || index_base(u) >= 0) {
      kind_[n.outputs[0]] = ValueKind::Inline;
      value_deps_[n.outputs[0]] = non_member_deps();
      return;
    }
  }
  // A gather becomes an indexed load in its consumers when its indices are
  // in memory (the kernel checks their range before it runs, like eager); a
  // constant pad becomes a bounds test selecting between a load and the value.
  if ((is_gather(p) && (kind_[n.inputs[1]] != ValueKind::Inline || index_base(n.inputs[1]) >= 0)) ||
      dynamic_cast<const Pad*>(&p)) {
    for (int u : n.inputs) {
      if (kind_[u] == ValueKind::Member) materialize(u, "GATHER_OR_PAD_OPERAND");
    }
    kind_[n.outputs[0]] = ValueKind::Inline;
    value_deps_[n.outputs[0]] = non_member_deps();
    return;
  }
  const bool concat = options_.fuse && fusable_concat(p, n.inputs.size());
  if (concat) {
    for (int u : n.inputs) {
      if (kind_[u] == ValueKind::Member) materialize(u, "CONCAT_OPERAND");
    }
  }
  if (is_elementwise(p) || reduce || positional_view || concat) {
    const Shape& shape = reduce ? g_.values[n.inputs[0]].shape : g_.values[n.outputs[0]].shape;
    bool zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
    if (!zero) {
      // Groups of the inputs first (merging same-space ones), then any group
      // with the same space (horizontal fusion), then a new group.
      std::vector<int> cands;
      for (int u : n.inputs) {
        if (kind_[u] == ValueKind::Member) cands.push_back(group_of_value_[u]);
      }
      for (size_t i = 1; i < cands.size(); ++i) {
        if (cands[i] != cands[0]) try_merge(cands[0], cands[i]);
      }
      for (int u : n.inputs) {
        if (kind_[u] != ValueKind::Member) continue;
        int grp = group_of_value_[u];
        if (can_join(node, grp)) {
          join(node, grp);
          return;
        }
      }
      // Horizontal fusion. A GPU plan leaves independent work with
      // reductions to block fusion, whose parts share shared memory; one
      // group would hold all their locals at once.
      const bool horizontal = target_ != PlanTarget::GpuProgram || (!reduce && cands.empty());
      for (int gi = static_cast<int>(groups_.size()) - 1; horizontal && gi >= 0; --gi) {
        const Group& other = groups_[gi];
        if (other.members.empty() || other.space != shape) continue;
        if (target_ == PlanTarget::GpuProgram && !other.reduced.empty()) continue;
        if (can_join(node, gi)) {
          join(node, gi);
          return;
        }
      }
      groups_.push_back({shape, {}, {}});
      int fresh = static_cast<int>(groups_.size()) - 1;
      if (can_join(node, fresh)) {
        join(node, fresh);
        return;
      }
      groups_.pop_back();
    }
  }
  // A library call / unfusable primitive: its inputs must exist in memory.
  for (int u : n.inputs) materialize(u, is_view(p) ? "VIEW_CONSUMER" : "OPAQUE_CONSUMER");
  for (int v : n.outputs) {
    kind_[v] = ValueKind::Materialized;
    value_deps_[v] = non_member_deps();
  }
}

void Planner::group() {
  const size_t nv = g_.values.size();
  kind_.assign(nv, ValueKind::Materialized);
  group_of_value_.assign(nv, -1);
  producer_.assign(nv, -1);
  value_deps_.assign(nv, {});
  view_step_.assign(g_.nodes.size(), 0);
  group_of_node_.assign(g_.nodes.size(), -1);
  vaxes_.assign(nv, {});
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    for (int v : g_.nodes[i].outputs) producer_[v] = static_cast<int>(i);
  }
  if (options_.fuse) {
    for (size_t i = 0; i < g_.nodes.size(); ++i) assign(static_cast<int>(i));
  } else {
    for (size_t i = 0; i < g_.nodes.size(); ++i) view_step_[i] = 1;
  }
  for (int v : g_.outputs) materialize(v, "GRAPH_OUTPUT");
}

}  // namespace mfx::jit_detail
