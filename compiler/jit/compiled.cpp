// Running a compiled signature, and the rules that make jit compose with the
// transforms: derivatives and batching of the traced program, compiled too.
#include "compiler/jit/compiled.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/planner.h"
#include "compiler/kernel_cache.h"
#include "eager_profile.h"

#include "mfx/gpu.h"
#include "mfx/ops.h"

namespace mfx::jit_detail {

namespace {

// Expressions of a kernel: a proxy for its LLVM time, which grows with the
// size of the one function it becomes.
size_t expression_count(const compiler::Kernel& k) {
  size_t n = 0;
  for (const auto& p : k.phases) n += p.exprs.size();
  return n;
}

// Compiles the plan's kernels into the kernel cache on several threads (LLVM
// works on one kernel per thread), so the in-order pass below finds them
// there. A kernel that fails here fails again there, and falls back.
void precompile(const std::vector<StepDraft>& drafts, const std::vector<KernelDraft>& kernels,
                const compiler::CodegenOptions& co) {
  std::vector<int> pending;
  for (const auto& d : drafts) {
    if (d.kernel >= 0) pending.push_back(d.kernel);
  }
  // Largest first: a stitched kernel can take as long as all the others
  // together, and started last it would leave the other threads idle.
  std::vector<size_t> cost(kernels.size());
  for (int k : pending) cost[k] = expression_count(kernels[k].k);
  std::stable_sort(pending.begin(), pending.end(),
                   [&](int a, int b) { return cost[a] > cost[b]; });
  const int threads = static_cast<int>(
      std::min<size_t>({pending.size(), std::max(1u, std::thread::hardware_concurrency()), 8}));
  if (threads < 2) return;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < pending.size(); i = next++) {
      try {
        compiler::KernelCache::global().cpu(kernels[pending[i]].k, co);
      } catch (...) {
        // Reported, or replaced by its parts, when compiled in order.
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace

std::string compile_profile_text(const std::vector<StepDraft>& steps) {
  // One row per distinct compiled kernel (equal kernels share one).
  struct Row {
    std::string name;
    size_t phases, exprs;
    double seconds;
  };
  std::vector<Row> rows;
  std::set<const compiler::CpuKernel*> seen;
  double total = 0;
  for (const auto& d : steps) {
    auto fk = std::dynamic_pointer_cast<FusedKernel>(d.prim);
    if (!fk) continue;
    const compiler::CpuKernel& ck = fk->cpu_kernel();
    if (!seen.insert(&ck).second) continue;
    rows.push_back({fk->kernel().name, fk->kernel().phases.size(), expression_count(fk->kernel()),
                    ck.compile_seconds()});
    total += rows.back().seconds;
  }
  if (rows.empty()) return "";
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.seconds > b.seconds; });
  std::string out = fmt::format(
      "  compiling: {} kernels, {:.2f} s summed (LLVM, or the load from the disk cache):\n",
      rows.size(), total);
  for (size_t i = 0; i < rows.size() && i < 8; ++i) {
    out += fmt::format("  {:8.3f} s  {:<32} {:4} phases {:6} expressions\n", rows[i].seconds,
                       rows[i].name, rows[i].phases, rows[i].exprs);
  }
  return out;
}

std::vector<StepDraft> compile_kernel_steps(
    std::vector<StepDraft> drafts, std::vector<KernelDraft>& kernels, const JitOptions& options,
    const std::function<std::vector<StepDraft>(int group, const std::string& why)>& unfused) {
  compiler::CodegenOptions co;
  co.fast_math = options.fast_math;
  precompile(drafts, kernels, co);
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
          for (auto& d : unfused(gi, e.what())) out.push_back(std::move(d));
        }
      }
    }
  };
  std::vector<StepDraft> next;
  for (auto& d : drafts) {
    if (d.kernel < 0) {
      next.push_back(std::move(d));
    } else {
      compile(d.kernel, next);
    }
  }
  return next;
}

CompiledFunction::CompiledFunction(Graph traced, JitOptions options)
    : traced_(std::move(traced)), options_(std::move(options)) {}

const Plan& CompiledFunction::plan() const {
  std::call_once(planned_, [&] {
    plan_ = make_plan(simplify(traced_, &simplify_stats_), options_,
                      options_.plan_for_gpu ? PlanTarget::GpuProgram : PlanTarget::CpuProgram);
  });
  return plan_;
}

const std::vector<array>& CompiledFunction::constants_on(Device device) const {
  std::lock_guard<std::mutex> lock(constants_mutex_);
  auto it = device_constants_.find(device.index);
  if (it != device_constants_.end()) return it->second;
  std::vector<array> copies;
  for (const auto& c : plan().program.constants) copies.push_back(to_device(c.data, device));
  mfx::eval(copies);
  return device_constants_.emplace(device.index, std::move(copies)).first->second;
}

bool CompiledFunction::profiling() { return profile_rows() > 0; }

// MFX_JIT_PROFILE=1 prints the 20 costliest steps at exit; a larger number that many.
size_t CompiledFunction::profile_rows() {
  static const size_t rows = detail::profile_rows_from_env("MFX_JIT_PROFILE");
  return rows;
}

// Step by step, each evaluated before the next, with its wall time.
std::vector<array> CompiledFunction::run_profiled(const std::vector<array>& inputs) const {
  const Graph& g = plan().program;
  std::vector<array> constants;
  for (const auto& c : g.constants) constants.push_back(c.data);
  std::vector<double> seconds(g.nodes.size());
  std::vector<array> outs =
      replay(g, inputs, constants, [&](size_t k, std::vector<array>& made) {
        const auto t0 = std::chrono::steady_clock::now();
        mfx::eval(made);
        seconds[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
  {
    std::lock_guard<std::mutex> lock(profile_mutex_);
    if (step_seconds_.empty()) step_seconds_.assign(g.nodes.size(), 0.0);
    for (size_t k = 0; k < seconds.size(); ++k) step_seconds_[k] += seconds[k];
    ++profiled_calls_;
  }
  return outs;
}

std::string CompiledFunction::profile_text(size_t top) const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  if (profiled_calls_ == 0) return "";
  const Plan& p = plan();
  std::vector<size_t> order(step_seconds_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return step_seconds_[a] > step_seconds_[b]; });
  double total = 0;
  for (double t : step_seconds_) total += t;
  std::string out = fmt::format("{}: {} calls, {:.2f} ms per call in {} steps\n", options_.name,
                                profiled_calls_, total * 1e3 / profiled_calls_,
                                step_seconds_.size());
  // Totals per library call / primitive (fused kernels together), largest first.
  std::map<std::string, std::pair<double, int>> by_kind;
  for (size_t k = 0; k < step_seconds_.size(); ++k) {
    const auto& st = p.steps[k];
    auto& e = by_kind[st.kind == "fused" ? "fused kernels" : st.name];
    e.first += step_seconds_[k];
    ++e.second;
  }
  std::vector<std::pair<std::string, std::pair<double, int>>> kinds(by_kind.begin(), by_kind.end());
  std::sort(kinds.begin(), kinds.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  out += "  by kind:";
  for (size_t i = 0; i < std::min<size_t>(8, kinds.size()); ++i) {
    const auto& [name, e] = kinds[i];
    out += fmt::format("{} {} x{} {:.1f} ms ({:.0f} %)", i ? "," : "", name, e.second,
                       e.first * 1e3 / profiled_calls_, 100 * e.first / total);
  }
  out += "\n  the costliest steps:\n";
  for (size_t i = 0; i < std::min(top, order.size()); ++i) {
    const size_t k = order[i];
    const auto& st = p.steps[k];
    std::string ops;
    for (size_t j = 0; j < st.source_ops.size() && j < 4; ++j) ops += (j ? " " : "") + st.source_ops[j];
    if (st.source_ops.size() > 4) ops += fmt::format(" +{}", st.source_ops.size() - 4);
    const auto& node = p.program.nodes[k];
    const std::string shape =
        node.outputs.empty() ? "" : shape_str(p.program.values[node.outputs[0]].shape);
    out += fmt::format("  {:8.3f} ms {:5.1f} %  {:<9} {:<28} -> {:<18} {}\n",
                       step_seconds_[k] * 1e3 / profiled_calls_, 100 * step_seconds_[k] / total,
                       st.kind, st.name.substr(0, 28), shape, ops);
  }
  return out + p.compile_profile;
}

CompiledFunction::~CompiledFunction() {
  if (profiling()) {
    const std::string text = profile_text(profile_rows());
    if (!text.empty()) std::fprintf(stderr, "[MFX_JIT_PROFILE] %s", text.c_str());
  }
}

GraphReplay& CompiledFunction::graph_on(Device device) const {
  std::lock_guard<std::mutex> lock(constants_mutex_);
  auto& g = graphs_[device.index];
  if (!g) g = std::make_unique<GraphReplay>(device);
  return *g;
}

std::vector<array> CompiledFunction::run(const std::vector<array>& inputs) const {
  std::optional<Device> gpu;
  for (const auto& in : inputs) {
    if (in.on_gpu()) gpu = in.device();
  }
  if (!gpu) {
    if (profiling()) return run_profiled(inputs);
    std::vector<array> outs = replay(plan().program, inputs);
    mfx::eval(outs);
    return outs;
  }
  const std::vector<array>& constants = constants_on(*gpu);
  auto step_by_step = [&](const std::vector<array>& in) {
    std::vector<array> outs = replay(plan().program, in, constants);
    mfx::eval(outs);
    return outs;
  };
  if (options_.cuda_graph) {
    if (auto outs = graph_on(*gpu).run(inputs, step_by_step)) return *outs;
  }
  return step_by_step(inputs);
}

JitStats CompiledFunction::stats() const {
  JitStats s;
  const Plan& p = plan();
  s.traced_nodes = simplify_stats_.traced_nodes;
  s.noops_removed = simplify_stats_.noops_removed;
  s.cse_merged = simplify_stats_.cse_merged;
  s.dead_removed = simplify_stats_.dead_removed;
  s.constants = simplify_stats_.constants;
  s.executed_nodes = s.traced_nodes - s.noops_removed - s.cse_merged - s.dead_removed;
  s.kernels = p.launches();
  std::lock_guard<std::mutex> lock(constants_mutex_);
  if (!graphs_.empty()) {
    s.cuda_graph = graphs_.begin()->second->status();
    s.cuda_graph_nodes = static_cast<int>(graphs_.begin()->second->nodes());
  }
  return s;
}

namespace {

std::string suffix(const char* what, const std::vector<int>& nums) {
  std::string s = what;
  auto num = [](int n) { return n < 0 ? std::string("n") : std::to_string(n); };
  bool contiguous = !nums.empty();
  for (size_t k = 1; k < nums.size(); ++k) contiguous &= nums[k] == nums[k - 1] + 1;
  // Long argument lists (a parameter Tree's leaves) would make names, and the
  // report folders named after them, longer than a file name may be.
  if (nums.size() > 4 && contiguous) return s + "_" + num(nums.front()) + "-" + num(nums.back());
  if (nums.size() > 4) {
    size_t h = 0;
    for (int n : nums) h = h * 1000003u + static_cast<size_t>(n + 1);
    return s + "_" + std::to_string(nums.size()) + "args_" + std::to_string(h % 1000000007u);
  }
  for (int n : nums) s += "_" + num(n);
  return s;
}

// The traced program as a function of all inputs, with the ones at `nums`
// taken from `sub` instead.
std::vector<array> substituted(const Graph& g, std::vector<array> all, const std::vector<int>& nums,
                               const std::vector<array>& sub) {
  for (size_t k = 0; k < nums.size(); ++k) all[nums[k]] = sub[k];
  return replay(g, all);
}

}  // namespace

JitFunction& CompiledFunction::backward(const std::vector<int>& nums) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = backward_.find(nums);
  if (it != backward_.end()) return it->second;
  const Graph& g = traced_;
  const size_t n = g.inputs.size();
  // (primals..., cotangents...) -> cotangents of the primals at nums.
  ArrayFn bwd = [&g, n, nums](const std::vector<array>& args) {
    std::vector<array> primals(args.begin(), args.begin() + n);
    std::vector<array> cts(args.begin() + n, args.end());
    std::vector<array> diff;
    for (int a : nums) diff.push_back(primals[a]);
    ArrayFn fwd = [&](const std::vector<array>& d) { return substituted(g, primals, nums, d); };
    return mfx::vjp(fwd, diff, cts).second;
  };
  JitOptions o = options_;
  o.name = options_.name + suffix("_vjp", nums);
  return backward_.emplace(nums, jit(bwd, o)).first->second;
}

namespace {

// The part of `g` made of `nodes` (indices, in order) as a graph of its own
// with the given inputs and outputs; values are renumbered, and the
// constants it reads come along.
Graph subgraph(const Graph& g, const std::vector<int>& in, const std::vector<size_t>& nodes,
               const std::vector<int>& out) {
  Graph s;
  std::vector<int> id(g.values.size(), -1);
  auto map = [&](int v) {
    if (id[v] < 0) id[v] = s.add_value(g.values[v].shape, g.values[v].dtype);
    return id[v];
  };
  for (int v : in) s.inputs.push_back(map(v));
  std::vector<int> constant_of(g.values.size(), -1);
  for (size_t c = 0; c < g.constants.size(); ++c) constant_of[g.constants[c].value] = static_cast<int>(c);
  auto read = [&](int v) {
    if (id[v] < 0 && constant_of[v] >= 0) {
      s.constants.push_back({map(v), g.constants[constant_of[v]].data});
    }
    if (id[v] < 0) {
      throw std::logic_error(fmt::format("[jit] internal: split vjp reads value {} it lacks", v));
    }
    return id[v];
  };
  for (size_t k : nodes) {
    const auto& n = g.nodes[k];
    Graph::Node copy{n.prim, {}, {}};
    for (int v : n.inputs) copy.inputs.push_back(read(v));
    for (int v : n.outputs) copy.outputs.push_back(map(v));
    s.nodes.push_back(std::move(copy));
  }
  for (int v : out) s.outputs.push_back(read(v));
  return s;
}

}  // namespace

const CompiledFunction::SplitVjp& CompiledFunction::split_vjp(const std::vector<int>& wanted) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = split_vjp_.find(wanted); it != split_vjp_.end()) return *it->second;
  const Graph& g = traced_;
  const size_t n = g.inputs.size(), k = g.outputs.size();
  std::vector<int> nums;
  for (size_t a = 0; a < n; ++a) {
    const bool asked =
        wanted.empty() || std::find(wanted.begin(), wanted.end(), static_cast<int>(a)) != wanted.end();
    if (asked && is_floating(g.values[g.inputs[a]].dtype)) nums.push_back(static_cast<int>(a));
  }
  // (primals..., cotangents...) -> (outputs..., cotangents of the primals at nums...).
  ArrayFn joint = [&g, n, nums](const std::vector<array>& args) {
    std::vector<array> primals(args.begin(), args.begin() + static_cast<long>(n));
    std::vector<array> cts(args.begin() + static_cast<long>(n), args.end());
    std::vector<array> diff;
    for (int a : nums) diff.push_back(primals[a]);
    ArrayFn fwd = [&](const std::vector<array>& d) { return substituted(g, primals, nums, d); };
    auto [outs, grads] = mfx::vjp(fwd, diff, cts);
    outs.insert(outs.end(), grads.begin(), grads.end());
    return outs;
  };
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (int v : g.inputs) shapes.push_back(g.values[v].shape), dtypes.push_back(g.values[v].dtype);
  for (int v : g.outputs) shapes.push_back(g.values[v].shape), dtypes.push_back(g.values[v].dtype);
  Graph j = trace(joint, shapes, dtypes, options_.name + "_vjp");
  // Everything computed from a cotangent is backward; the rest is forward.
  std::vector<char> from_ct(j.values.size(), 0), is_constant(j.values.size(), 0);
  for (size_t i = n; i < j.inputs.size(); ++i) from_ct[j.inputs[i]] = 1;
  for (const auto& c : j.constants) is_constant[c.value] = 1;
  std::vector<size_t> fwd_nodes, bwd_nodes;
  for (size_t i = 0; i < j.nodes.size(); ++i) {
    bool b = false;
    for (int v : j.nodes[i].inputs) b = b || from_ct[v];
    for (int v : j.nodes[i].outputs) from_ct[v] = b;
    (b ? bwd_nodes : fwd_nodes).push_back(i);
  }
  // Residuals: forward values (arguments included) the backward reads or returns.
  std::vector<int> residuals;
  std::vector<char> taken(j.values.size(), 0);
  auto keep = [&](int v) {
    if (!from_ct[v] && !is_constant[v] && !taken[v]) {
      taken[v] = 1;
      residuals.push_back(v);
    }
  };
  for (size_t i : bwd_nodes) {
    for (int v : j.nodes[i].inputs) keep(v);
  }
  for (size_t o = k; o < j.outputs.size(); ++o) keep(j.outputs[o]);
  std::vector<int> f_in(j.inputs.begin(), j.inputs.begin() + static_cast<long>(n));
  std::vector<int> f_out(j.outputs.begin(), j.outputs.begin() + static_cast<long>(k));
  for (int v : f_out) {
    if (from_ct[v]) throw std::logic_error("[jit] internal: an output depends on a cotangent");
  }
  f_out.insert(f_out.end(), residuals.begin(), residuals.end());
  std::vector<int> b_in = residuals;
  b_in.insert(b_in.end(), j.inputs.begin() + static_cast<long>(n), j.inputs.end());
  std::vector<int> b_out(j.outputs.begin() + static_cast<long>(k), j.outputs.end());
  JitOptions fo = options_, bo = options_;
  fo.name = options_.name + "_fwd";
  bo.name = options_.name + "_bwd";
  auto split = std::make_unique<SplitVjp>();
  split->forward = std::make_shared<CompiledFunction>(subgraph(j, f_in, fwd_nodes, f_out), fo);
  split->backward = std::make_shared<CompiledFunction>(subgraph(j, b_in, bwd_nodes, b_out), bo);
  split->outputs = k;
  split->argnums = nums;
  return *(split_vjp_[wanted] = std::move(split));
}

JitFunction& CompiledFunction::forward_tangents(const std::vector<int>& nums) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = forward_tangents_.find(nums);
  if (it != forward_tangents_.end()) return it->second;
  const Graph& g = traced_;
  const size_t n = g.inputs.size();
  // (primals..., tangents of nums...) -> tangents of the outputs.
  ArrayFn fwd_t = [&g, n, nums](const std::vector<array>& args) {
    std::vector<array> primals(args.begin(), args.begin() + n);
    std::vector<array> tans(args.begin() + n, args.end());
    std::vector<array> diff;
    for (int a : nums) diff.push_back(primals[a]);
    ArrayFn fwd = [&](const std::vector<array>& d) { return substituted(g, primals, nums, d); };
    return mfx::jvp(fwd, diff, tans).second;
  };
  JitOptions o = options_;
  o.name = options_.name + suffix("_jvp", nums);
  return forward_tangents_.emplace(nums, jit(fwd_t, o)).first->second;
}

JitFunction& CompiledFunction::batched(const std::vector<int>& axes) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = batched_.find(axes);
  if (it != batched_.end()) return it->second;
  const Graph& g = traced_;
  VmapAxes in_axes;
  for (int a : axes) in_axes.push_back(a < 0 ? std::nullopt : std::optional<int>(a));
  ArrayFn f = [&g](const std::vector<array>& args) { return replay(g, args); };
  JitOptions o = options_;
  o.name = options_.name + suffix("_vmap", axes);
  return batched_.emplace(axes, jit(vmap(f, in_axes), o)).first->second;
}

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<array> res = fn_->run(inputs);
  for (size_t i = 0; i < outputs.size(); ++i) {
    outputs[i].set_view(res[i], res[i].strides(), 0, res[i].data_size(), res[i].flags());
  }
}

bool Compiled::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Compiled*>(&other);
  return o && o->fn_ == fn_;
}

std::vector<array> Compiled::vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<int> diff;
  for (int a : argnums) {
    if (is_floating(primals[a].dtype())) diff.push_back(a);
  }
  std::vector<array> got;
  if (!diff.empty()) {
    std::vector<array> args = primals;
    args.insert(args.end(), cotangents.begin(), cotangents.end());
    got = fn_->backward(diff)(args);
  }
  std::vector<array> res;
  size_t k = 0;
  for (int a : argnums) {
    res.push_back(is_floating(primals[a].dtype()) ? got[k++] : zeros_like(primals[a]));
  }
  return res;
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<int> diff;
  std::vector<array> args = primals;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (!is_floating(primals[argnums[k]].dtype())) continue;
    diff.push_back(argnums[k]);
    args.push_back(tangents[k]);
  }
  if (diff.empty()) {
    std::vector<array> zero;
    for (int v : fn_->traced().outputs) {
      zero.push_back(zeros(fn_->traced().values[v].shape, fn_->traced().values[v].dtype));
    }
    return zero;
  }
  return fn_->forward_tangents(diff)(args);
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes,
                                                               const std::vector<array>& outputs) {
  auto res = fn_->batched(axes)(inputs);
  return {res, std::vector<int>(res.size(), 0)};
}

}  // namespace mfx::jit_detail
