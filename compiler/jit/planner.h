// The fusion planner (internal to compiler/jit): the grouping pass that
// assigns nodes to kernels (planner.cpp) and the assembly that turns the
// groups into the plan's steps (plan_assembly.cpp); the kernels themselves
// are written by KernelEmitter (kernel_emitter.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/codegen.h"
#include "compiler/jit/fusion_group.h"
#include "compiler/jit/plan.h"

namespace mfx::jit_detail {

/// A step of the plan being made: a primitive call, or a kernel (compiled
/// once the plan is settled).
struct StepDraft {
  std::vector<int> inputs, outputs;
  std::shared_ptr<Primitive> prim;  // null: kernels[kernel], compiled at the end
  Plan::Step report;
  int kernel = -1;
};

/// A generated kernel with what block fusion needs to know about it.
struct KernelDraft {
  compiler::Kernel k;
  std::vector<int> args, outs;
  std::vector<std::pair<int, int64_t>> checks;
  std::map<int, int> load_prefix;
  std::vector<int> store_prefix;
  std::vector<std::string> sources;
  std::vector<int> groups;  // planner groups it runs (fallback when codegen fails)
  std::vector<int> parts;   // stitched: the kernels it replaces
};

/// Compiles the kernel steps of `drafts` (kernels[d.kernel]) into FusedKernel
/// steps, so that a codegen failure falls back: a stitched kernel to its
/// parts, a kernel to `unfused(group, error)` (its nodes as primitives).
/// Defined next to the Compiled primitive that runs the result (compiled.cpp).
std::vector<StepDraft> compile_kernel_steps(
    std::vector<StepDraft> drafts, std::vector<KernelDraft>& kernels, const JitOptions& options,
    const std::function<std::vector<StepDraft>(int group, const std::string& why)>& unfused);

/// The compiled kernels of `steps` by compile time, for MFX_JIT_PROFILE
/// (Plan::compile_profile): a slow first call names its kernels.
std::string compile_profile_text(const std::vector<StepDraft>& steps);

/// One planning run over a simplified graph: group() assigns every node to a
/// kernel group, an inline read or a step of its own; run() groups and
/// assembles the plan.
class Planner {
 public:
  Planner(const Graph& g, const JitOptions& options, PlanTarget target)
      : g_(g), options_(options), target_(target) {}

  /// Groups the graph (planner.cpp) and assembles the plan (plan_assembly.cpp).
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
  // Member values other groups compute from values in memory instead of
  // loading them (choose_recomputed), and those of them no longer stored.
  std::set<int> recomputed_;
  std::vector<int> not_stored_;
  std::vector<char> view_step_;                    // inline view nodes executed as steps
  // Inline nodes that unfused_steps already emitted as steps of their own.
  mutable std::vector<char> inline_emitted_;
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
  // The grouping pass: every node assigned, graph outputs materialised.
  void group();
  // Values stored only for other kernels that are a few elementwise
  // operations on values in memory: the readers recompute them
  // (planner_recompute.cpp; CPU plans).
  void choose_recomputed();
  static constexpr int kMaxRecomputeCost = 32;  // operations per element
  static constexpr int kMaxRecomputeWork = 64;  // that, times the reading nodes
  // Assembly (plan_assembly.cpp).
  void add_opaque_steps(std::vector<StepDraft>& drafts) const;
  std::vector<StepDraft> unfused_steps(int gi, const std::string& why) const;
  void add_group_kernel(int gi, std::vector<StepDraft>& drafts,
                        std::vector<KernelDraft>& kernels) const;
  void stitch_blocks(std::vector<StepDraft>& drafts, std::vector<KernelDraft>& kernels) const;
};

}  // namespace mfx::jit_detail
