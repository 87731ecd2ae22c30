// Kernel IR emission for one fusion group (internal to compiler/jit): the
// group's reductions become Reduce phases, its outputs store phases, and
// values read by several phases may be computed once into locals.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compiler/jit/fusion_group.h"
#include "compiler/jit/graph.h"
#include "compiler/kernel_builder.h"
#include "primitives/reduction.h"

namespace mfx::jit_detail {

/// Writes the fusion group `id` (grp) of graph `g` as one kernel, given the
/// planner's state: each value's group and producer node, the space axes of
/// members' dims (vaxes) and of reductions' inputs (red_in_axes).
/// `cache_bytes` bounds the locals holding values computed once for several
/// phases (shared memory on a GPU). `recomputed`: values of other groups that
/// this kernel computes from their inputs where it reads them.
class KernelEmitter {
 public:
  KernelEmitter(const Graph& g, const Group& grp, const std::vector<int>& group_of_value, int id,
                const std::vector<int>& producer, const std::vector<std::vector<int>>& vaxes,
                const std::map<int, std::vector<int>>& red_in_axes, int64_t cache_bytes,
                const std::set<int>& recomputed)
      : cache_bytes_(cache_bytes),
        g_(g),
        grp_(grp),
        group_of_value_(group_of_value),
        id_(id),
        producer_(producer),
        vaxes_(vaxes),
        red_in_axes_(red_in_axes),
        recomputed_(recomputed) {}

  /// The kernel reading `args` (values in memory) and storing `outs`.
  compiler::Kernel build(const std::vector<int>& args, const std::vector<int>& outs,
                         const std::string& name);

 private:
  int64_t cache_bytes_;  // locals for values computed once and read by several phases
  const Graph& g_;
  const Group& grp_;
  const std::vector<int>& group_of_value_;
  int id_;
  const std::vector<int>& producer_;
  const std::vector<std::vector<int>>& vaxes_;
  const std::map<int, std::vector<int>>& red_in_axes_;
  const std::set<int>& recomputed_;  // other groups' values computed here from memory
  compiler::Kernel k_;
  std::vector<int> domain_axes_, grid_axes_;
  std::map<int, int> arg_of_value_;
  std::map<int, int> local_of_value_;           // reduce output -> local
  std::map<int, std::vector<int>> local_axes_;  // local -> S axes of its dims
  // Current phase state.
  std::unique_ptr<compiler::PhaseBuilder> b_;
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
  // Another group's elementwise value at `idx`, from its inputs.
  int emit_recomputed(int v, const std::vector<int>& idx);
  // An elementwise primitive on its operands' expressions.
  int apply_elementwise(const Primitive& p, const std::vector<int>& in, Dtype dtype);
  /// `gathered`: the gather's result, whose indices are range-checked only
  /// when it has elements.
  int gather_index(int indices, const std::vector<int>& at, int64_t size, int gathered);
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

}  // namespace mfx::jit_detail
