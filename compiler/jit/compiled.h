// One compiled signature of a jitted function and the primitive that runs it
// inside an array graph (internal).
#pragma once

#include <map>
#include <mutex>

#include "compiler/jit/graph.h"
#include "compiler/jit/graph_replay.h"
#include "compiler/jit/plan.h"
#include "eval_when_empty.h"
#include "mfx/jit.h"

namespace mfx::jit_detail {

class CompiledFunction {
 public:
  CompiledFunction(Graph traced, JitOptions options);
  /// With MFX_JIT_PROFILE set, prints the costliest steps of its calls to stderr.
  ~CompiledFunction();

  /// MFX_JIT_PROFILE=1 (read once): CPU calls run the plan one step at a time,
  /// each evaluated before the next and timed.
  static bool profiling();
  /// How many steps the exit table lists: 20, or N for MFX_JIT_PROFILE=N > 1 (0: off).
  static size_t profile_rows();
  /// The `top` costliest steps of the profiled calls so far, per call ("" if none).
  std::string profile_text(size_t top) const;

  /// Runs the plan on evaluated inputs; returns evaluated outputs. With
  /// inputs on a GPU the plan's steps run there (its constants are copied
  /// to the device once).
  std::vector<array> run(const std::vector<array>& inputs) const;

  const Graph& traced() const { return traced_; }
  /// The execution plan, made (and its kernels compiled) on first use: a
  /// signature used only through split_vjp() never compiles its own plan.
  const Plan& plan() const;
  const JitOptions& options() const { return options_; }
  JitStats stats() const;

  /// Compiled derivative and batching functions, made on first use per
  /// argument selection (the engine asks for the same ones every step).
  JitFunction& backward(const std::vector<int>& argnums);

  /// The vjp w.r.t. the floating arguments among `argnums` (all floating
  /// arguments when empty), split where the cotangents enter: `forward` maps
  /// the arguments to the outputs followed by the residuals (the forward
  /// values the backward reads); `backward` maps the residuals followed by
  /// one cotangent per output to the cotangents of the arguments at
  /// SplitVjp::argnums. The forward runs once per step.
  struct SplitVjp {
    std::shared_ptr<CompiledFunction> forward, backward;
    size_t outputs = 0;
    std::vector<int> argnums;
  };
  const SplitVjp& split_vjp(const std::vector<int>& argnums = {});
  JitFunction& forward_tangents(const std::vector<int>& argnums);
  JitFunction& batched(const std::vector<int>& axes);

 private:
  Graph traced_;
  JitOptions options_;
  mutable SimplifyStats simplify_stats_;
  mutable Plan plan_;
  mutable std::once_flag planned_;
  std::mutex mutex_;
  std::map<std::vector<int>, JitFunction> backward_, forward_tangents_, batched_;
  std::map<std::vector<int>, std::unique_ptr<SplitVjp>> split_vjp_;
  // The plan's constants copied to each GPU the function ran on.
  mutable std::mutex constants_mutex_;
  mutable std::map<int, std::vector<array>> device_constants_;
  const std::vector<array>& constants_on(Device device) const;
  // CUDA-graph replay per GPU (JitOptions::cuda_graph), made on first use.
  mutable std::map<int, std::unique_ptr<GraphReplay>> graphs_;
  std::vector<array> run_profiled(const std::vector<array>& inputs) const;
  mutable std::mutex profile_mutex_;
  mutable std::vector<double> step_seconds_;
  mutable int64_t profiled_calls_ = 0;
  GraphReplay& graph_on(Device device) const;
};

/// Graph node standing for one call of a compiled function. It runs even
/// when its outputs are empty (EvalWhenEmpty): its steps refuse what the
/// program's eager ops would refuse on the way.
class Compiled : public Primitive, public EvalWhenEmpty {
 public:
  explicit Compiled(std::shared_ptr<CompiledFunction> fn) : fn_(std::move(fn)) {}
  std::string name() const override { return "Compiled(" + fn_->options().name + ")"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  std::shared_ptr<CompiledFunction> fn_;
};

}  // namespace mfx::jit_detail
