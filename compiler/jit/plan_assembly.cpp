// Plan assembly: the groups become kernels (kernel_emitter.h), block fusion
// stitches kernels over the same batch elements, and the steps are ordered.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>

#include "compiler/jit/block_fusion.h"
#include "compiler/jit/compiled.h"
#include "compiler/jit/kernel_emitter.h"
#include "compiler/jit/planner.h"
#include "compiler/jit/small_contractions.h"
#include "compiler/kernel_roll.h"
#include "compiler/kernel_stitch.h"
#include "cpu/parallel.h"
#include "primitives/reduction.h"

namespace mfx::jit_detail {

namespace {

using compiler::Kernel;

// Shared memory a GPU kernel may fill with values it computes once for
// several phases (reduction results come on top).
constexpr int64_t kGpuCacheBytes = 48 << 10;

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

}  // namespace

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

// Steps for the nodes outside kernels (library calls, views run as steps).
void Planner::add_opaque_steps(std::vector<StepDraft>& drafts) const {
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
}

// Codegen cannot take a group: its members run as primitives, after the
// inline values they read (views, gathers, pads that only its kernel would
// have made), each emitted once.
std::vector<StepDraft> Planner::unfused_steps(int gi, const std::string& why) const {
  std::vector<StepDraft> out;
  if (inline_emitted_.size() != g_.nodes.size()) inline_emitted_.assign(g_.nodes.size(), 0);
  // Each node once: a value another group recomputes may be made here by
  // its own group's fallback or by a reader's.
  auto emit = [&](int node) {
    const auto& n = g_.nodes[node];
    out.push_back({n.inputs,
                   n.outputs,
                   n.prim,
                   {is_view(*n.prim) ? "view" : "primitive",
                    n.prim->name(),
                    {n.prim->name()},
                    "CODEGEN_UNSUPPORTED: " + why}});
  };
  std::function<void(int)> add_inline = [&](int v) {
    const bool inline_read = kind_[v] == ValueKind::Inline && !view_step_[producer_[v]];
    if (!inline_read && !recomputed_.count(v)) return;
    const int p = producer_[v];
    if (inline_emitted_[p]) return;
    inline_emitted_[p] = 1;
    for (int u : g_.nodes[p].inputs) add_inline(u);
    emit(p);
  };
  for (int node : groups_[gi].members) {
    if (inline_emitted_[node]) continue;
    inline_emitted_[node] = 1;
    for (int u : g_.nodes[node].inputs) add_inline(u);
    emit(node);
  }
  return out;
}

// The kernel of group gi and its step (or its members as primitives when the
// emitter rejects the group).
void Planner::add_group_kernel(int gi, std::vector<StepDraft>& drafts,
                               std::vector<KernelDraft>& kernels) const {
  const Group& grp = groups_[gi];
  std::vector<int> outs;
  for (int node : grp.members) {
    for (int v : g_.nodes[node].outputs) {
      if (materialize_reason_.count(v)) outs.push_back(v);
    }
  }
  // Every value it made for others is recomputed by its readers.
  if (outs.empty()) return;
  // Arguments: materialised values read by members, directly or via views.
  std::set<int> args_set;
  std::function<void(int)> collect = [&](int v) {
    if (kind_[v] == ValueKind::Member && group_of_value_[v] == gi) return;
    if (kind_[v] == ValueKind::Inline || recomputed_.count(v)) {
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
    KernelEmitter em(g_, grp, group_of_value_, gi, producer_, vaxes_, red_in_axes_, cache_bytes,
                     recomputed_);
    Kernel k = em.build(args, outs, name);
    kernels.push_back({std::move(k),
                       args,
                       outs,
                       em.range_checks_,
                       em.load_prefix_,
                       em.store_prefix_,
                       sources,
                       {gi},
                       {}});
    drafts.push_back(
        {args, outs, nullptr, {"fused", name, sources, ""}, static_cast<int>(kernels.size()) - 1});
  } catch (const std::exception& e) {
    for (auto& d : unfused_steps(gi, e.what())) drafts.push_back(std::move(d));
  }
}

Plan Planner::run() {
  group();
  if (options_.fuse && options_.recompute && target_ == PlanTarget::CpuProgram) {
    choose_recomputed();
  }
  // Steps: (inputs, outputs, primitive, report entry), then a topological order.
  std::vector<StepDraft> drafts;
  std::vector<KernelDraft> kernels;
  add_opaque_steps(drafts);
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups_[gi].members.empty()) continue;  // merged into another
    add_group_kernel(static_cast<int>(gi), drafts, kernels);
  }
  // Block fusion: kernels over the same batch elements become one kernel.
  if (options_.fuse && options_.block_fusion && target_ != PlanTarget::SingleKernel &&
      kernels.size() > 1) {
    stitch_blocks(drafts, kernels);
  }
  // One copy of each run of repeated phases (the decoder layers' losses in
  // one kernel): it compiles that many times faster. Not on the GPU, where
  // the rolled locals would share less memory (kernel_stitch.h).
  if (target_ == PlanTarget::CpuProgram) {
    for (const auto& d : drafts) {
      if (d.kernel >= 0) kernels[d.kernel].k = compiler::roll_phases(kernels[d.kernel].k);
    }
  }
  // Compile the kernels now, so codegen failures fall back (compiled.cpp).
  drafts = compile_kernel_steps(
      std::move(drafts), kernels, options_,
      [this](int gi, const std::string& why) { return unfused_steps(gi, why); });
  std::vector<int> order = topological_order(drafts, g_.values.size());
  Plan plan;
  if (CompiledFunction::profiling()) plan.compile_profile = compile_profile_text(drafts);
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
  plan.recomputed = not_stored_;
  return plan;
}

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
