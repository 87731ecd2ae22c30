// Fusion planning. One forward pass over the simplified graph assigns every
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
#include "compiler/jit/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "compiler/jit/block_fusion.h"
#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/small_contractions.h"
#include "compiler/kernel_builder.h"
#include "compiler/kernel_stitch.h"
#include "cpu/parallel.h"
#include "primitives/elementwise.h"
#include "primitives/indexing.h"
#include "primitives/reduction.h"
#include "primitives/shape.h"
#include "primitives/view.h"

namespace mfx::jit_detail {

namespace {

using compiler::Kernel;
using compiler::PhaseBuilder;

enum class ValueKind { Materialized, Inline, Member };

bool is_elementwise(const Primitive& p) {
  return dynamic_cast<const Unary*>(&p) || dynamic_cast<const Binary*>(&p) ||
         dynamic_cast<const Select*>(&p) || dynamic_cast<const AsType*>(&p) ||
         dynamic_cast<const StopGradient*>(&p);
}
bool is_view(const Primitive& p) {
  return dynamic_cast<const Reshape*>(&p) || dynamic_cast<const Transpose*>(&p) ||
         dynamic_cast<const Slice*>(&p) || dynamic_cast<const Broadcast*>(&p);
}

// A concatenation of a few inputs fuses as a select between their loads.
constexpr size_t kMaxFusedConcatInputs = 8;
const Concatenate* fusable_concat(const Primitive& p, size_t inputs) {
  auto* c = dynamic_cast<const Concatenate*>(&p);
  return c && inputs <= kMaxFusedConcatInputs ? c : nullptr;
}

bool is_gather(const Primitive& p) {
  return dynamic_cast<const Gather*>(&p) || dynamic_cast<const GatherAxis*>(&p);
}

bool aligned(const Shape& s, const Shape& space) {
  if (s.size() != space.size()) return false;
  for (size_t a = 0; a < s.size(); ++a) {
    if (s[a] != 1 && s[a] != space[a]) return false;
  }
  return true;
}

Strides row_major(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

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

// Folding a parallel axis must not leave a big kernel with fewer grid
// points than the CPU has threads to share them (its body would run on one
// thread); a GPU plan will use its SM count instead.
constexpr int64_t kBigKernelPoints = 1 << 12;

// Shared memory a GPU kernel may fill with values it computes once for
// several phases (reduction results come on top).
constexpr int64_t kGpuCacheBytes = 48 << 10;

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
// point; the library reduction streams the rows instead.
constexpr int64_t kLongStridedReduction = 1 << 10;

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

// A step of the plan being made: a primitive call, or a kernel (compiled
// once the plan is settled).
struct StepDraft {
  std::vector<int> inputs, outputs;
  std::shared_ptr<Primitive> prim;  // null: kernels[kernel], compiled at the end
  Plan::Step report;
  int kernel = -1;
};

// A generated kernel with what block fusion needs to know about it.
struct KernelDraft {
  Kernel k;
  std::vector<int> args, outs;
  std::vector<std::pair<int, int64_t>> checks;
  std::map<int, int> load_prefix;
  std::vector<int> store_prefix;
  std::vector<std::string> sources;
  std::vector<int> groups;  // planner groups it runs (fallback when codegen fails)
  std::vector<int> parts;   // stitched: the kernels it replaces
};

// Lanes of a block's parts: parts linked by a value one writes and another
// reads share a lane; unlinked ones run side by side. Empty when all are
// linked (one lane).
std::vector<int> independent_lanes(const std::vector<int>& parts,
                                   const std::vector<KernelDraft>& kernels) {
  std::vector<int> root(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) root[i] = static_cast<int>(i);
  std::function<int(int)> find = [&](int i) { return root[i] == i ? i : root[i] = find(root[i]); };
  std::map<int, int> writer;  // value -> part
  for (size_t i = 0; i < parts.size(); ++i) {
    for (int v : kernels[parts[i]].args) {
      auto w = writer.find(v);
      if (w != writer.end()) root[find(static_cast<int>(i))] = find(w->second);
    }
    for (int v : kernels[parts[i]].outs) writer[v] = static_cast<int>(i);
  }
  std::map<int, int> lane_of_root;
  std::vector<int> lanes;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int r = find(static_cast<int>(i));
    lanes.push_back(lane_of_root.emplace(r, static_cast<int>(lane_of_root.size())).first->second);
  }
  if (lane_of_root.size() < 2) lanes.clear();
  return lanes;
}

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Topological order of the steps over value ids (Kahn; lowest index first).
std::vector<int> topological_order(const std::vector<StepDraft>& steps, size_t nv) {
  std::vector<int> producer_step(nv, -1);
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int v : steps[s].outputs) producer_step[v] = static_cast<int>(s);
  }
  std::vector<int> pending(steps.size(), 0);
  std::vector<std::vector<int>> users(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int v : steps[s].inputs) {
      int p = producer_step[v];
      if (p >= 0) {
        ++pending[s];
        users[p].push_back(static_cast<int>(s));
      }
    }
  }
  std::vector<int> ready, order;
  for (size_t s = 0; s < steps.size(); ++s) {
    if (!pending[s]) ready.push_back(static_cast<int>(s));
  }
  while (!ready.empty()) {
    std::sort(ready.begin(), ready.end(), std::greater<int>());
    int s = ready.back();
    ready.pop_back();
    order.push_back(s);
    for (int u : users[s]) {
      if (--pending[u] == 0) ready.push_back(u);
    }
  }
  if (order.size() != steps.size()) {
    throw std::logic_error("[jit] planner produced a cycle between kernels");
  }
  return order;
}

class Planner {
 public:
  Planner(const Graph& g, const JitOptions& options, PlanTarget target)
      : g_(g), options_(options), target_(target) {}

  Plan run();

 private:
  const Graph& g_;
  const JitOptions& options_;
  PlanTarget target_;
  std::vector<ValueKind> kind_;
  std::vector<int> group_of_value_;        // Member: its group
  std::vector<int> producer_;              // node index, -1 for inputs/constants
  std::vector<std::set<int>> value_deps_;  // non-members: groups upstream
  std::vector<Group> groups_;
  std::map<int, std::string> materialize_reason_;  // member values stored by their group
  std::vector<char> view_step_;                    // inline view nodes executed as steps
  std::vector<int> group_of_node_;
  // Members: the space axis of every dim (-1: a size-1 dim along no axis).
  std::vector<std::vector<int>> vaxes_;
  std::map<int, std::vector<int>> red_in_axes_;  // Reduce node -> its input's axes

  std::set<int> deps_of(int v) const {
    if (kind_[v] == ValueKind::Member) return {group_of_value_[v]};
    return value_deps_[v];
  }
  bool reaches(int from, int to) const {  // group `from` depends (transitively) on `to`
    std::vector<int> stack{from};
    std::set<int> seen;
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (x == to) return true;
      if (!seen.insert(x).second) continue;
      for (int d : groups_[x].deps) stack.push_back(d);
    }
    return false;
  }
  void materialize(int v, const std::string& reason) {
    if (kind_[v] == ValueKind::Member) {
      materialize_reason_.emplace(v, reason);
    } else if (kind_[v] == ValueKind::Inline) {
      // The view/gather chain runs as primitive steps.
      int n = producer_[v];
      if (!view_step_[n]) {
        view_step_[n] = 1;
        for (int u : g_.nodes[n].inputs) materialize(u, reason);
      }
    }
  }
  // The value in memory that gather indices read through reshapes,
  // transposes and broadcasts (views that read every element, so checking
  // its range checks the indices'), or -1.
  int index_base(int v) const {
    while (kind_[v] == ValueKind::Inline) {
      const auto& n = g_.nodes[producer_[v]];
      if (!dynamic_cast<const Reshape*>(n.prim.get()) &&
          !dynamic_cast<const Transpose*>(n.prim.get()) &&
          !dynamic_cast<const Broadcast*>(n.prim.get())) {
        return -1;
      }
      v = n.inputs[0];
    }
    return v;
  }
  std::optional<std::vector<int>> map_into(int node, int grp) const;
  bool can_join(int node, int grp) const;
  void join(int node, int grp);
  bool try_merge(int into, int from);
  void assign(int node);
  void stitch_blocks(std::vector<StepDraft>& drafts, std::vector<KernelDraft>& kernels) const;
};

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

// ---------------------------------------------------------------- emission

class KernelEmitter {
 public:
  KernelEmitter(const Graph& g, const Group& grp, const std::vector<int>& group_of_value, int id,
                const std::vector<int>& producer, const std::vector<std::vector<int>>& vaxes,
                const std::map<int, std::vector<int>>& red_in_axes, int64_t cache_bytes)
      : cache_bytes_(cache_bytes),
        g_(g),
        grp_(grp),
        group_of_value_(group_of_value),
        id_(id),
        producer_(producer),
        vaxes_(vaxes),
        red_in_axes_(red_in_axes) {}

  Kernel build(const std::vector<int>& args, const std::vector<int>& outs, const std::string& name);

 private:
  int64_t cache_bytes_;  // locals for values computed once and read by several phases
  const Graph& g_;
  const Group& grp_;
  const std::vector<int>& group_of_value_;
  int id_;
  const std::vector<int>& producer_;
  const std::vector<std::vector<int>>& vaxes_;
  const std::map<int, std::vector<int>>& red_in_axes_;
  Kernel k_;
  std::vector<int> domain_axes_, grid_axes_;
  std::map<int, int> arg_of_value_;
  std::map<int, int> local_of_value_;           // reduce output -> local
  std::map<int, std::vector<int>> local_axes_;  // local -> S axes of its dims
  // Current phase state.
  std::unique_ptr<PhaseBuilder> b_;
  std::vector<int> iter_;  // per S axis: expr id of the iteration index, or -1
  std::map<int, int> memo_;

  std::map<int, size_t> materialize_before_;  // value -> index of its first reader phase

  bool member(int v) const { return group_of_value_[v] == id_; }
  bool is_reduce_output(int v) const {
    return dynamic_cast<const Reduce*>(g_.nodes[producer_[v]].prim.get()) != nullptr;
  }
  // Member values (not reduction results) reached from `root` without
  // crossing a reduction result or an already chosen local.
  void reach(int root, std::set<int>& seen) const {
    if (!member(root) || is_reduce_output(root) || materialize_before_.count(root)) return;
    if (!seen.insert(root).second) return;
    for (int u : g_.nodes[producer_[root]].inputs) reach(u, seen);
  }
  bool expensive(int v) const;
  void choose_materializations(size_t phases, const std::function<std::vector<int>(size_t)>& roots);
  int zero() { return b_->index(0); }
  // Leading dims of an access at `idx` that are grid axis i at dim i.
  int own_prefix(const std::vector<int>& idx) const {
    int d = 0;
    while (d < static_cast<int>(idx.size()) && d < static_cast<int>(grid_axes_.size()) &&
           grid_axes_[d] == d && idx[d] == iter_[d]) {
      ++d;
    }
    return d;
  }
  void begin_phase(compiler::Phase& ph, const std::vector<int64_t>& extents);
  int emit_value(int v, const std::vector<int>& axes);
  int emit_member(int v);
  int emit_index(int v, const std::vector<int>& idx);
  int gather_index(int indices, const std::vector<int>& at, int64_t size);
  int index_arg(int v) const;
  int emit_concat(const Graph::Node& n, int axis, const std::vector<int>& idx, Dtype dtype);

 public:
  /// Index arguments and the axis size their values must lie in [-size, size).
  std::vector<std::pair<int, int64_t>> range_checks_;
  /// Per input arg / output: leading dims every access indexes by the grid
  /// point's own coordinates (block_fusion.h).
  std::map<int, int> load_prefix_;
  std::vector<int> store_prefix_;

 private:
  std::vector<int> positional(const Shape& s, const std::vector<int>& axes) {
    std::vector<int> idx;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) {
        idx.push_back(zero());
      } else {
        if (axes[i] < 0 || iter_[axes[i]] < 0) {
          throw std::logic_error("[jit] planner: value outside its phase");
        }
        idx.push_back(iter_[axes[i]]);
      }
    }
    return idx;
  }
  // Extent of each domain axis a value of `shape` on `axes` spans.
  std::vector<int64_t> extents_of(const Shape& shape, const std::vector<int>& axes) const {
    std::vector<int64_t> ext;
    for (int a : domain_axes_) {
      int64_t e = 1;
      for (size_t i = 0; i < shape.size(); ++i) {
        if (axes[i] == a && shape[i] > 1) e = grp_.space[a];
      }
      ext.push_back(e);
    }
    return ext;
  }
};

bool KernelEmitter::expensive(int v) const {
  std::set<int> seen;
  reach(v, seen);
  for (int u : seen) {
    const Primitive& p = *g_.nodes[producer_[u]].prim;
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
          break;
      }
    }
    if (auto* bin = dynamic_cast<const Binary*>(&p)) {
      if (bin->op() == BinaryOp::Power || bin->op() == BinaryOp::Arctan2) return true;
    }
  }
  return false;
}

// Largest expensive values first: each one read by two or more phases is
// computed once into a local (bounded size), which also stops the walk for
// the values inside it.
void KernelEmitter::choose_materializations(size_t phases,
                                            const std::function<std::vector<int>(size_t)>& roots) {
  // CPU locals live on the stack of the kernel call (256 KiB of float32);
  // a GPU plan will bound this by shared memory instead.
  constexpr int64_t kMaxLocal = 1 << 16;
  std::set<int> candidates;
  for (size_t i = 0; i < phases; ++i) {
    std::set<int> seen;
    for (int r : roots(i)) reach(r, seen);
    candidates.insert(seen.begin(), seen.end());
  }
  int64_t used = 0;
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    int v = *it;
    int64_t size = 1;
    for (auto e : extents_of(g_.values[v].shape, vaxes_[v])) size *= e;
    const int64_t bytes = size * static_cast<int64_t>(size_of(g_.values[v].dtype));
    if (size > kMaxLocal || used + bytes > cache_bytes_ || !expensive(v)) continue;
    std::vector<size_t> users;
    for (size_t i = 0; i < phases; ++i) {
      std::set<int> seen;
      for (int r : roots(i)) reach(r, seen);
      if (seen.count(v)) users.push_back(i);
    }
    if (users.size() >= 2) {
      materialize_before_[v] = users.front();
      used += bytes;
    }
  }
}

void KernelEmitter::begin_phase(compiler::Phase& ph, const std::vector<int64_t>& extents) {
  memo_.clear();
  iter_.assign(grp_.space.size(), -1);
  ph.domain = extents;
  b_ = std::make_unique<PhaseBuilder>(ph);
  for (size_t i = 0; i < grid_axes_.size(); ++i) iter_[grid_axes_[i]] = b_->grid_index(i);
  for (size_t i = 0; i < domain_axes_.size(); ++i) {
    if (extents[i] == grp_.space[domain_axes_[i]] || grp_.space[domain_axes_[i]] == 1) {
      iter_[domain_axes_[i]] = extents[i] == 1 ? b_->index(0) : b_->domain_index(i);
    }
  }
}

int KernelEmitter::emit_index(int v, const std::vector<int>& idx) {
  auto arg = arg_of_value_.find(v);
  const Shape& s = g_.values[v].shape;
  if (arg != arg_of_value_.end()) {
    Strides st = row_major(s);
    std::vector<int64_t> strides(st.begin(), st.end());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) strides[i] = 0;
    }
    auto lp = load_prefix_.find(arg->second);
    const int depth = own_prefix(idx);
    if (lp == load_prefix_.end()) {
      load_prefix_[arg->second] = depth;
    } else {
      lp->second = std::min(lp->second, depth);
    }
    return b_->load(arg->second, g_.values[v].dtype, b_->linear_index(idx, strides));
  }
  const auto& n = g_.nodes[producer_[v]];
  const Primitive& p = *n.prim;
  const int u = n.inputs[0];
  const Shape& us = g_.values[u].shape;
  std::vector<int> ui(us.size());
  if (auto* rc = dynamic_cast<const RangeCheckedIndex*>(&p)) {
    range_checks_.push_back({index_arg(u), rc->size()});
    return emit_index(u, idx);
  }
  if (auto* pad = dynamic_cast<const Pad*>(&p)) {
    if (std::find(us.begin(), us.end(), 0) != us.end()) return emit_index(n.inputs[1], {});
    int valid = -1;
    for (size_t i = 0; i < us.size(); ++i) {
      if (pad->low()[i] == 0 && us[i] == s[i]) {  // not padded along this dim
        ui[i] = idx[i];
        continue;
      }
      int j = b_->add(idx[i], b_->index(-pad->low()[i]));
      int inside =
          b_->binary(BinaryOp::LogicalAnd, b_->binary(BinaryOp::GreaterEqual, j, b_->index(0)),
                     b_->binary(BinaryOp::Less, j, b_->index(us[i])));
      valid = valid < 0 ? inside : b_->binary(BinaryOp::LogicalAnd, valid, inside);
      // Clamped so the load stays in bounds; the select discards it outside.
      ui[i] = b_->binary(BinaryOp::Minimum, b_->binary(BinaryOp::Maximum, j, b_->index(0)),
                         b_->index(std::max<int64_t>(us[i] - 1, 0)));
    }
    int inner = emit_index(u, ui);
    int fill = emit_index(n.inputs[1], {});
    if (b_->dtype_of(fill) != b_->dtype_of(inner)) fill = b_->cast(fill, b_->dtype_of(inner));
    return valid < 0 ? inner : b_->select(valid, inner, fill);
  }
  if (dynamic_cast<const Broadcast*>(&p)) {
    size_t off = s.size() - us.size();
    for (size_t i = 0; i < us.size(); ++i) ui[i] = us[i] == 1 ? zero() : idx[i + off];
  } else if (auto* t = dynamic_cast<const Transpose*>(&p)) {
    for (size_t i = 0; i < s.size(); ++i) ui[t->axes()[i]] = idx[i];
  } else if (auto* sl = dynamic_cast<const Slice*>(&p)) {
    for (size_t i = 0; i < us.size(); ++i) {
      const int64_t start = sl->start()[i], step = sl->step()[i];
      ui[i] = start == 0 && step == 1 ? idx[i]
                                      : b_->add(b_->index(start), b_->mul(idx[i], b_->index(step)));
    }
  } else if (auto* ga = dynamic_cast<const Gather*>(&p)) {
    // out = a.shape[:axis] + idx.shape + a.shape[axis+1:]
    const int ax = ga->axis();
    const int k = g_.values[n.inputs[1]].shape.size();
    std::vector<int> ii(idx.begin() + ax, idx.begin() + ax + k);
    int j = gather_index(n.inputs[1], ii, us[ax]);
    for (int i = 0; i < ax; ++i) ui[i] = idx[i];
    ui[ax] = j;
    for (size_t i = ax + 1; i < us.size(); ++i) ui[i] = idx[i - 1 + k];
  } else if (auto* gx = dynamic_cast<const GatherAxis*>(&p)) {
    ui = idx;
    ui[gx->axis()] = gather_index(n.inputs[1], idx, us[gx->axis()]);
  } else if (dynamic_cast<const Reshape*>(&p)) {
    // Leading dims both shapes share pass through (they keep a batch index
    // recognisable); the rest goes through the linear index.
    size_t keep = 0;
    while (keep < s.size() && keep < us.size() && s[keep] == us[keep]) ++keep;
    for (size_t i = 0; i < keep; ++i) ui[i] = idx[i];
    Shape s_rest(s.begin() + keep, s.end()), us_rest(us.begin() + keep, us.end());
    Strides vs = row_major(s_rest), ust = row_major(us_rest);
    std::vector<int> idx_rest(idx.begin() + keep, idx.end());
    int lin = b_->linear_index(idx_rest, std::vector<int64_t>(vs.begin(), vs.end()));
    for (size_t i = keep; i < us.size(); ++i) {
      ui[i] =
          us[i] == 1 ? zero() : b_->mod(b_->div(lin, b_->index(ust[i - keep])), b_->index(us[i]));
    }
  } else {
    throw std::logic_error("[jit] planner: unexpected inline node " + p.name());
  }
  return emit_index(u, ui);
}

// The argument holding index values `v` reads, directly or through views:
// the range check covers that whole buffer.
int KernelEmitter::index_arg(int v) const {
  int base = v;
  auto arg = arg_of_value_.find(base);
  while (arg == arg_of_value_.end() && producer_[base] >= 0 && !member(base) &&
         is_view(*g_.nodes[producer_[base]].prim)) {
    base = g_.nodes[producer_[base]].inputs[0];
    arg = arg_of_value_.find(base);
  }
  if (arg == arg_of_value_.end()) {
    throw std::logic_error("[jit] planner: gather indices not in memory");
  }
  return arg->second;
}

int KernelEmitter::gather_index(int indices, const std::vector<int>& at, int64_t size) {
  int raw = b_->cast(emit_index(indices, at), int64);
  int wrapped = b_->add(raw, b_->index(size));
  int negative = b_->binary(BinaryOp::Less, raw, b_->index(0));
  range_checks_.push_back({index_arg(indices), size});
  return b_->select(negative, wrapped, raw);
}

// Element idx of a concatenation: the input whose range along `axis`
// holds idx[axis], loaded at the shifted (clamped) index.
int KernelEmitter::emit_concat(const Graph::Node& n, int axis, const std::vector<int>& idx,
                               Dtype dtype) {
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  for (int u : n.inputs) {
    offsets.push_back(offset);
    offset += g_.values[u].shape[axis];
  }
  int r = -1;
  for (size_t j = n.inputs.size(); j-- > 0;) {
    const int64_t extent = g_.values[n.inputs[j]].shape[axis];
    if (extent == 0) continue;
    std::vector<int> ui = idx;
    int shifted = b_->add(idx[axis], b_->index(-offsets[j]));
    ui[axis] = b_->binary(BinaryOp::Minimum, b_->binary(BinaryOp::Maximum, shifted, b_->index(0)),
                          b_->index(extent - 1));
    int value = emit_index(n.inputs[j], ui);
    if (b_->dtype_of(value) != dtype) value = b_->cast(value, dtype);
    if (r < 0) {
      r = value;
    } else {
      int before_next = b_->binary(BinaryOp::Less, idx[axis], b_->index(offsets[j + 1]));
      r = b_->select(before_next, value, r);
    }
  }
  return r;
}

int KernelEmitter::emit_value(int v, const std::vector<int>& axes) {
  if (member(v)) return emit_member(v);
  return emit_index(v, positional(g_.values[v].shape, axes));
}

int KernelEmitter::emit_member(int v) {
  auto m = memo_.find(v);
  if (m != memo_.end()) return m->second;
  const auto& n = g_.nodes[producer_[v]];
  const Primitive& p = *n.prim;
  const Dtype dtype = g_.values[v].dtype;
  int r;
  if (auto loc = local_of_value_.find(v); loc != local_of_value_.end()) {
    std::vector<int> idx;
    const auto& lshape = k_.locals[loc->second].shape;
    const auto& axes = local_axes_[loc->second];
    for (size_t i = 0; i < axes.size(); ++i) {
      idx.push_back(lshape[i] == 1 ? zero() : iter_[axes[i]]);
      if (idx.back() < 0) throw std::logic_error("[jit] planner: local read outside its axes");
    }
    r = b_->load_local(loc->second, dtype, idx);
  } else if (dynamic_cast<const Reduce*>(&p)) {
    throw std::logic_error("[jit] planner: reduction read before its phase");
  } else if (auto* cat = fusable_concat(p, n.inputs.size())) {
    r = emit_concat(n, cat->axis(), positional(g_.values[v].shape, vaxes_[v]), dtype);
  } else if (auto* un = dynamic_cast<const Unary*>(&p)) {
    r = b_->unary(un->op(), emit_value(n.inputs[0], vaxes_[v]));
  } else if (auto* bin = dynamic_cast<const Binary*>(&p)) {
    int a = emit_value(n.inputs[0], vaxes_[v]);
    r = b_->binary(bin->op(), a, emit_value(n.inputs[1], vaxes_[v]));
  } else if (dynamic_cast<const Select*>(&p)) {
    int c = emit_value(n.inputs[0], vaxes_[v]);
    int a = emit_value(n.inputs[1], vaxes_[v]);
    r = b_->select(c, a, emit_value(n.inputs[2], vaxes_[v]));
  } else if (dynamic_cast<const AsType*>(&p)) {
    r = b_->cast(emit_value(n.inputs[0], vaxes_[v]), dtype);
  } else if (dynamic_cast<const StopGradient*>(&p)) {
    r = emit_value(n.inputs[0], vaxes_[v]);
  } else {  // a view of a member: the same element at the same space point
    r = emit_member(n.inputs[0]);
  }
  if (b_->dtype_of(r) != dtype) r = b_->cast(r, dtype);
  memo_[v] = r;
  return r;
}

Kernel KernelEmitter::build(const std::vector<int>& args, const std::vector<int>& outs,
                            const std::string& name) {
  k_.name = name;
  store_prefix_.assign(outs.size(), 0);
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& val = g_.values[args[i]];
    int64_t size = 1;
    for (auto d : val.shape) size *= d;
    k_.args.push_back({val.dtype, size, false});
    arg_of_value_[args[i]] = static_cast<int>(i);
  }
  for (int v : outs) {
    const auto& val = g_.values[v];
    int64_t size = 1;
    for (auto d : val.shape) size *= d;
    k_.args.push_back({val.dtype, size, true});
  }
  // Space axes each reduction folds (dims of size 1 fold nothing).
  std::map<int, std::set<int>> folds;
  std::set<int> reduced;
  for (int node : grp_.members) {
    if (auto* r = dynamic_cast<const Reduce*>(g_.nodes[node].prim.get())) {
      const auto& in_axes = red_in_axes_.at(node);
      const Shape& in = g_.values[g_.nodes[node].inputs[0]].shape;
      for (int d : r->axes()) {
        if (in[d] > 1) folds[node].insert(in_axes[d]);
      }
      reduced.insert(folds[node].begin(), folds[node].end());
    }
  }
  for (int a = 0; a < static_cast<int>(grp_.space.size()); ++a) {
    (reduced.count(a) ? domain_axes_ : grid_axes_).push_back(a);
  }
  for (int a : grid_axes_) k_.grid.push_back(grp_.space[a]);

  // Phase plan: one Reduce phase per reduction (in order), then one store
  // phase per distinct output extent; expensive values read by several
  // phases are computed once into a local by a Map phase placed before
  // their first reader.
  struct Spec {
    enum Kind { ReducePhase, MaterializePhase, StorePhase } kind;
    int node = -1;                // ReducePhase
    int value = -1;               // MaterializePhase
    std::vector<int64_t> extent;  // StorePhase
    std::vector<size_t> outs;     // StorePhase
  };
  std::vector<Spec> specs;
  for (int node : grp_.members) {
    if (dynamic_cast<const Reduce*>(g_.nodes[node].prim.get())) {
      specs.push_back({Spec::ReducePhase, node});
    }
  }
  std::map<std::vector<int64_t>, std::vector<size_t>> by_extent;
  for (size_t o = 0; o < outs.size(); ++o) {
    std::vector<int64_t> ext;
    by_extent[extents_of(g_.values[outs[o]].shape, vaxes_[outs[o]])].push_back(o);
  }
  for (auto& [ext, list] : by_extent) specs.push_back({Spec::StorePhase, -1, -1, ext, list});
  choose_materializations(specs.size(), [&](size_t i) {
    std::vector<int> roots;
    if (specs[i].kind == Spec::ReducePhase) roots.push_back(g_.nodes[specs[i].node].inputs[0]);
    for (size_t o : specs[i].outs) roots.push_back(outs[o]);
    return roots;
  });
  std::vector<Spec> ordered;
  for (size_t i = 0; i < specs.size(); ++i) {
    for (auto& [v, first] : materialize_before_) {
      if (first == i) ordered.push_back({Spec::MaterializePhase, -1, v});
    }
    ordered.push_back(specs[i]);
  }

  for (const Spec& spec : ordered) {
    k_.phases.emplace_back();
    auto& ph = k_.phases.back();
    if (spec.kind == Spec::MaterializePhase) {
      compiler::LocalArray local{g_.values[spec.value].dtype,
                                 extents_of(g_.values[spec.value].shape, vaxes_[spec.value])};
      begin_phase(ph, local.shape);
      int value = emit_member(spec.value);
      int lid = static_cast<int>(k_.locals.size());
      k_.locals.push_back(local);
      local_axes_[lid] = domain_axes_;
      b_->materialize(lid, value);
      local_of_value_[spec.value] = lid;
    } else if (spec.kind == Spec::ReducePhase) {
      const auto& n = g_.nodes[spec.node];
      auto* r = dynamic_cast<const Reduce*>(n.prim.get());
      const auto& in_axes = red_in_axes_.at(spec.node);
      std::vector<int64_t> extents = extents_of(g_.values[n.inputs[0]].shape, in_axes);
      compiler::LocalArray local{r->out_dtype(), {}};
      std::vector<int> laxes, raxes;
      const auto& fold = folds[spec.node];
      for (size_t i = 0; i < domain_axes_.size(); ++i) {
        int a = domain_axes_[i];
        if (fold.count(a)) {
          raxes.push_back(static_cast<int>(i));
        } else {
          local.shape.push_back(extents[i]);
          laxes.push_back(a);
        }
      }
      ph.kind = compiler::PhaseKind::Reduce;
      ph.reduced_axes = raxes;
      begin_phase(ph, extents);
      int value = emit_value(n.inputs[0], in_axes);
      const bool logical = r->op() == ReduceOp::All || r->op() == ReduceOp::Any;
      Dtype acc = logical ? bool_ : r->out_dtype();
      if (b_->dtype_of(value) != acc) value = b_->cast(value, acc);
      int lid = static_cast<int>(k_.locals.size());
      local.dtype = acc;
      k_.locals.push_back(local);
      local_axes_[lid] = laxes;
      b_->reduce(r->op(), lid, value);
      local_of_value_[n.outputs[0]] = lid;
    } else {
      begin_phase(ph, spec.extent);
      for (size_t o : spec.outs) {
        int v = outs[o];
        const Shape& vs = g_.values[v].shape;
        Strides st = row_major(vs);
        std::vector<int64_t> strides(st.begin(), st.end());
        for (size_t i = 0; i < vs.size(); ++i) {
          if (vs[i] == 1) strides[i] = 0;
        }
        std::vector<int> at = positional(vs, vaxes_[v]);
        store_prefix_[o] = own_prefix(at);
        int index = b_->linear_index(at, strides);
        b_->store(static_cast<int>(args.size() + o), index, emit_value(v, vaxes_[v]));
      }
    }
    b_.reset();
  }
  return k_;
}

// Stitches the kernels block fusion groups (block_fusion.h) into one kernel
// each and replaces their steps by it.
void Planner::stitch_blocks(std::vector<StepDraft>& drafts,
                            std::vector<KernelDraft>& kernels) const {
  const size_t nv = g_.values.size();
  std::vector<int> order = topological_order(drafts, nv);
  BlockGraph bg;
  bg.producer_step.assign(nv, -1);
  for (size_t i = 0; i < order.size(); ++i) {
    for (int v : drafts[order[i]].outputs) bg.producer_step[v] = static_cast<int>(i);
  }
  bg.preds.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    std::set<int> p;
    for (int v : drafts[order[i]].inputs) {
      if (bg.producer_step[v] >= 0) p.insert(bg.producer_step[v]);
    }
    bg.preds[i].assign(p.begin(), p.end());
  }
  for (const auto& val : g_.values)
    bg.value_shapes.emplace_back(val.shape.begin(), val.shape.end());
  std::vector<KernelCandidate> cands;
  std::vector<int> kernel_of_cand;
  for (size_t i = 0; i < order.size(); ++i) {
    const StepDraft& d = drafts[order[i]];
    if (d.kernel < 0) continue;
    const KernelDraft& kd = kernels[d.kernel];
    KernelCandidate c{&kd.k, kd.args, kd.outs, {}, kd.store_prefix, {}};
    for (size_t a = 0; a < kd.args.size(); ++a) {
      auto lp = kd.load_prefix.find(static_cast<int>(a));
      c.load_prefix.push_back(lp == kd.load_prefix.end() ? 0 : lp->second);
    }
    for (auto& [arg, size] : kd.checks) c.checked_args.push_back(arg);
    cands.push_back(std::move(c));
    bg.step_of.push_back(static_cast<int>(i));
    kernel_of_cand.push_back(d.kernel);
  }
  BlockFusionLimits limits;
  if (target_ == PlanTarget::CpuProgram) {
    limits.min_batch = std::max<int64_t>(2, 2 * cpu::num_threads());
    limits.max_local_bytes = 1 << 20;  // stack of the calling thread
  } else {
    limits.locals_alias = true;  // parts reuse shared memory (kernel_stitch.h)
  }
  std::map<int, int> stitched_into;  // kernel -> stitched kernel
  for (const auto& block : plan_blocks(cands, bg, limits)) {
    if (block.size() < 2) continue;
    KernelDraft st;
    std::vector<int> parts;
    for (int c : block) parts.push_back(kernel_of_cand[c]);
    std::set<int> produced;
    for (int kp : parts) produced.insert(kernels[kp].outs.begin(), kernels[kp].outs.end());
    std::map<int, int> ext_index;
    for (int kp : parts) {
      for (int v : kernels[kp].args) {
        if (!produced.count(v) && !ext_index.count(v)) {
          ext_index[v] = static_cast<int>(st.args.size());
          st.args.push_back(v);
        }
      }
    }
    std::map<int, int> out_index;
    for (int kp : parts) {
      for (int v : kernels[kp].outs) {
        out_index[v] = static_cast<int>(st.args.size() + st.outs.size());
        st.outs.push_back(v);
      }
    }
    std::vector<compiler::KernelArg> kargs;
    for (int v : st.args) kargs.push_back({g_.values[v].dtype, shape_size(g_.values[v].shape)});
    for (int v : st.outs) {
      kargs.push_back({g_.values[v].dtype, shape_size(g_.values[v].shape), true});
    }
    std::vector<Kernel> regridded;
    regridded.reserve(parts.size());
    std::vector<compiler::StitchPart> sparts;
    for (int kp : parts) {
      const KernelDraft& kd = kernels[kp];
      regridded.push_back(compiler::regrid(kd.k, 1));
      std::vector<int> map;
      for (int v : kd.args) map.push_back(produced.count(v) ? out_index.at(v) : ext_index.at(v));
      for (int v : kd.outs) map.push_back(out_index.at(v));
      for (auto& [arg, size] : kd.checks) st.checks.push_back({map[arg], size});
      st.sources.insert(st.sources.end(), kd.sources.begin(), kd.sources.end());
      st.groups.insert(st.groups.end(), kd.groups.begin(), kd.groups.end());
      sparts.push_back({nullptr, std::move(map)});
    }
    for (size_t i = 0; i < sparts.size(); ++i) sparts[i].kernel = &regridded[i];
    std::string name = kernels[parts[0]].k.name;
    name.replace(name.rfind("_k"), 2, "_b");
    st.k = compiler::stitch(sparts, kargs, name, independent_lanes(parts, kernels));
    st.parts = parts;
    kernels.push_back(std::move(st));
    for (int kp : parts) stitched_into[kp] = static_cast<int>(kernels.size()) - 1;
  }
  if (!stitched_into.empty()) {
    std::vector<StepDraft> next;
    std::set<int> placed;
    for (auto& d : drafts) {
      auto it = d.kernel >= 0 ? stitched_into.find(d.kernel) : stitched_into.end();
      if (it == stitched_into.end()) {
        next.push_back(std::move(d));
      } else if (placed.insert(it->second).second) {
        const KernelDraft& kd = kernels[it->second];
        next.push_back(
            {kd.args, kd.outs, nullptr, {"fused", kd.k.name, kd.sources, ""}, it->second});
      }
    }
    drafts = std::move(next);
  }
}

Plan Planner::run() {
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

  // Steps: (inputs, outputs, primitive, report entry), then a topological order.
  std::vector<StepDraft> drafts;
  std::vector<KernelDraft> kernels;
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const auto& n = g_.nodes[i];
    const bool inline_kind = kind_[n.outputs[0]] == ValueKind::Inline;
    bool opaque = group_of_node_[i] < 0 && (!inline_kind || view_step_[i]);
    if (!opaque) continue;
    const bool view = is_view(*n.prim);
    // Reductions left unfused: long strided ones (long_strided_reduction), empty ones.
    const char* reason = !options_.fuse                              ? "FUSION_DISABLED"
                         : view                                      ? "VIEW_NO_KERNEL"
                         : dynamic_cast<const Reduce*>(n.prim.get()) ? "LIBRARY_REDUCTION"
                                                                     : "OPAQUE_OP";
    drafts.push_back({n.inputs,
                      n.outputs,
                      n.prim,
                      {view ? "view" : "primitive", n.prim->name(), {n.prim->name()}, reason}});
  }
  // Codegen cannot take a group: run its members as primitives, after the
  // inline values they read (views, gathers, pads that only a kernel made).
  std::vector<char> inline_step(g_.nodes.size(), 0);
  std::function<void(int, const std::string&, std::vector<StepDraft>&)> add_inline =
      [&](int v, const std::string& why, std::vector<StepDraft>& out) {
        if (kind_[v] != ValueKind::Inline || view_step_[producer_[v]]) return;
        const int p = producer_[v];
        if (inline_step[p]) return;
        inline_step[p] = 1;
        const auto& n = g_.nodes[p];
        for (int u : n.inputs) add_inline(u, why, out);
        out.push_back({n.inputs,
                       n.outputs,
                       n.prim,
                       {is_view(*n.prim) ? "view" : "primitive",
                        n.prim->name(),
                        {n.prim->name()},
                        "CODEGEN_UNSUPPORTED: " + why}});
      };
  auto node_steps = [&](int gi, const std::string& why) {
    std::vector<StepDraft> out;
    for (int node : groups_[gi].members) {
      const auto& n = g_.nodes[node];
      for (int u : n.inputs) add_inline(u, why, out);
      out.push_back(
          {n.inputs,
           n.outputs,
           n.prim,
           {"primitive", n.prim->name(), {n.prim->name()}, "CODEGEN_UNSUPPORTED: " + why}});
    }
    return out;
  };
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& grp = groups_[gi];
    if (grp.members.empty()) continue;  // merged into another
    std::vector<int> outs;
    for (int node : grp.members) {
      for (int v : g_.nodes[node].outputs) {
        if (materialize_reason_.count(v)) outs.push_back(v);
      }
    }
    // Arguments: materialised values read by members, directly or via views.
    std::set<int> args_set;
    std::function<void(int)> collect = [&](int v) {
      if (kind_[v] == ValueKind::Member && group_of_value_[v] == static_cast<int>(gi)) return;
      if (kind_[v] == ValueKind::Inline) {
        for (int u : g_.nodes[producer_[v]].inputs) collect(u);
        return;
      }
      args_set.insert(v);
    };
    for (int node : grp.members) {
      for (int u : g_.nodes[node].inputs) collect(u);
    }
    std::vector<int> args(args_set.begin(), args_set.end());
    std::vector<std::string> sources;
    for (int node : grp.members) sources.push_back(g_.nodes[node].prim->name());
    std::string name = fmt::format("{}_k{}", options_.name, gi);
    for (auto& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    try {
      // A GPU kernel keeps its cached values in shared memory.
      const int64_t cache_bytes =
          target_ == PlanTarget::GpuProgram ? kGpuCacheBytes : std::numeric_limits<int64_t>::max();
      KernelEmitter em(g_, grp, group_of_value_, static_cast<int>(gi), producer_, vaxes_,
                       red_in_axes_, cache_bytes);
      Kernel k = em.build(args, outs, name);
      kernels.push_back({std::move(k),
                         args,
                         outs,
                         em.range_checks_,
                         em.load_prefix_,
                         em.store_prefix_,
                         sources,
                         {static_cast<int>(gi)},
                         {}});
      drafts.push_back({args,
                        outs,
                        nullptr,
                        {"fused", name, sources, ""},
                        static_cast<int>(kernels.size()) - 1});
    } catch (const std::exception& e) {
      for (auto& d : node_steps(static_cast<int>(gi), e.what())) drafts.push_back(std::move(d));
    }
  }
  // Block fusion: kernels over the same batch elements become one kernel.
  if (options_.fuse && options_.block_fusion && target_ != PlanTarget::SingleKernel &&
      kernels.size() > 1) {
    stitch_blocks(drafts, kernels);
  }

  // Compile the kernels now, so codegen failures fall back: a stitched
  // kernel to its parts, a kernel to its nodes as primitives.
  compiler::CodegenOptions co;
  co.fast_math = options_.fast_math;
  std::function<void(int, std::vector<StepDraft>&)> compile = [&](int ki,
                                                                  std::vector<StepDraft>& out) {
    KernelDraft& kd = kernels[ki];
    try {
      auto fk = std::make_shared<FusedKernel>(kd.k, co, kd.checks);
      fk->cpu_kernel();
      out.push_back({kd.args, kd.outs, fk, {"fused", kd.k.name, kd.sources, ""}});
    } catch (const std::exception& e) {
      if (!kd.parts.empty()) {
        for (int p : kd.parts) compile(p, out);
      } else {
        for (int gi : kd.groups) {
          for (auto& d : node_steps(gi, e.what())) out.push_back(std::move(d));
        }
      }
    }
  };
  {
    std::vector<StepDraft> next;
    for (auto& d : drafts) {
      if (d.kernel < 0) {
        next.push_back(std::move(d));
      } else {
        compile(d.kernel, next);
      }
    }
    drafts = std::move(next);
  }
  std::vector<int> order = topological_order(drafts, nv);
  Plan plan;
  plan.program.values = g_.values;
  plan.program.inputs = g_.inputs;
  plan.program.constants = g_.constants;
  plan.program.outputs = g_.outputs;
  for (int s : order) {
    plan.program.nodes.push_back({drafts[s].prim, drafts[s].inputs, drafts[s].outputs});
    plan.steps.push_back(drafts[s].report);
  }
  for (auto& [v, reason] : materialize_reason_) {
    plan.materialized.push_back({v, reason});
  }
  return plan;
}

}  // namespace

Plan make_plan(const Graph& simplified, const JitOptions& options, PlanTarget target) {
  if (!options.fuse || target == PlanTarget::SingleKernel) {
    return Planner(simplified, options, target).run();
  }
  Graph g = target == PlanTarget::GpuProgram ? lower_small_contractions(simplified) : simplified;
  if (options.block_fusion) {
    g = split_batch_reductions(
        g, target == PlanTarget::CpuProgram ? std::max(2, 2 * cpu::num_threads()) : 2);
  }
  return Planner(g, options, target).run();
}

}  // namespace mfx::jit_detail
