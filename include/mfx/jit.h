// jit: compile a function of arrays. The function is traced once per
// argument signature (shapes and dtypes) on placeholder arrays, simplified
// (structural CSE, constant folding, identity removal), planned into fused
// kernels and replayed on later calls without tracing.
//
// A jitted function returns lazy arrays like any op; they compute when
// evaluated. It composes with the transforms both ways: jit(grad(f)) compiles
// the backward pass, grad(jit(f)) differentiates the traced program (and
// compiles the backward too), vmap(jit(f)) batches it.
//
// Arrays the function captures (closures) are baked in as constants at trace
// time, as in JAX: later changes to them are not seen by cached traces.
#pragma once

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mfx/transforms.h"

namespace mfx {

struct JitOptions {
  /// Name used in reports and kernel names.
  std::string name = "jit_fn";
  /// Fuse elementwise/reduction code into generated kernels (else replay
  /// the simplified primitives one by one).
  bool fuse = true;
  /// Fast numerics in generated kernels (reassociated reductions,
  /// polynomial transcendental functions).
  bool fast_math = false;
  /// Block fusion (rules 3-4 of the design): kernels over the same batch
  /// elements whose values stay within one element become one kernel, one
  /// grid point per element running all of them.
  bool block_fusion = true;
  /// CPU plans: a value a kernel would store only for later kernels, when it
  /// is a few elementwise operations on values already in memory, is
  /// computed again by the kernels that read it instead (less memory
  /// traffic for a little arithmetic; the fusion report lists what is stored).
  bool recompute = true;
  /// Plan as for a GPU (locals bounded by shared memory, small scatter-adds
  /// and matmuls as fused reductions) even when the program runs on the
  /// CPU: its kernels are then compiled for the CPU, which is how the GPU
  /// plan is tested and reported on machines without one.
  bool plan_for_gpu = false;
  /// On GPU arrays: replay the program as a CUDA graph. The first call of a
  /// signature runs step by step (kernels compile), the second captures the
  /// plan into a graph, later calls copy the inputs into the graph's
  /// buffers, launch it once and copy the outputs out: no per-step launch
  /// cost and no host synchronisation. Plans with steps a graph cannot
  /// record (host round trips such as cumsum or random on the GPU) keep
  /// running step by step; JitStats::cuda_graph says which. The
  /// graph's buffers stay allocated while the function lives. Derivative
  /// and batched programs made from this function inherit the option.
  bool cuda_graph = false;
  /// When set, every newly compiled signature (the derivative and batched
  /// programs made by grad/jvp/vmap of it too) writes its fusion report to
  /// report_dir/<name>_<n>, as the MFX_FUSION_REPORT environment variable
  /// does for all functions.
  std::string report_dir;
};

/// Summary of one compiled signature of a jitted function.
struct JitStats {
  int traced_nodes = 0;    // primitive nodes in the trace
  int executed_nodes = 0;  // after simplification
  int noops_removed = 0;
  int cse_merged = 0;
  int dead_removed = 0;
  int constants = 0;
  int kernels = 0;  // launches per call (fused kernels + library/primitive calls)
  /// With JitOptions::cuda_graph on a GPU: "warming up", "captured" or
  /// "not captured: <why>" ("" otherwise), and the captured graph's nodes.
  std::string cuda_graph;
  int cuda_graph_nodes = 0;
};

namespace jit_detail {
class CompiledFunction;
}

/// What JitFunction::vjp returns: the outputs and their pullback.
struct JitVjp {
  std::vector<array> outputs;
  /// One cotangent per output (its shape and dtype) -> one cotangent per
  /// argument (zeros for those not differentiated: not in argnums, or not
  /// floating). Each call runs only the backward program, from the values
  /// the forward saved.
  std::function<std::vector<array>(const std::vector<array>&)> pullback;
};

class JitFunction {
 public:
  JitFunction(ArrayFn f, JitOptions options);
  /// Calls the compiled function (traces on the first call of a signature).
  std::vector<array> operator()(const std::vector<array>& args) const;
  /// The outputs at `args` and their pullback, as jax.vjp(jit(f), *args):
  /// the compiled vjp is split where the cotangents enter, into a forward
  /// that also returns the values the backward needs (residuals) and a
  /// backward from those. For a loss that must run eagerly on the outputs
  /// (a host-side matching), this runs the forward once per step, where
  /// grad of a jitted function recomputes it inside its backward. The
  /// residuals stay alive as long as the pullback. `argnums` selects the
  /// arguments to differentiate (empty: every floating one); leaving out
  /// inputs such as images skips their (often costly) cotangents.
  JitVjp vjp(const std::vector<array>& args, const std::vector<int>& argnums = {}) const;
  /// Number of distinct signatures traced so far.
  int cache_size() const;
  /// How often a call found its signature compiled already.
  int cache_hits() const;
  /// Statistics of the most recently used signature (throws before a call).
  JitStats stats() const;
  /// The fusion report of the most recently used signature as JSON text.
  std::string report_json() const;
  /// Writes the fusion report of the most recently used signature into
  /// `dir`: summary.txt, report.json, graph.dot, graph.html (one cluster per
  /// kernel) and kernels/<name>.kir/.mlir. With `with_ptx` each fused kernel
  /// is also compiled to PTX for sm_80/sm_90 and checked by ptxas, and the
  /// JSON records registers and shared memory. Setting the environment
  /// variable MFX_FUSION_REPORT=DIR writes a report for every newly compiled
  /// signature into DIR/<name>_<n>/.
  void write_report(const std::string& dir, bool with_ptx = false) const;
  /// With the environment variable MFX_JIT_PROFILE=1 (read once per
  /// process), CPU calls run the plan one step at a time and time each step;
  /// this returns the `top` costliest steps of the most recently used
  /// signature, per call ("" without profiled calls). Every compiled
  /// program also prints its table to stderr when it is destroyed.
  std::string profile(size_t top = 20) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  // The compiled signature of `args` (traced and planned on first use).
  std::shared_ptr<jit_detail::CompiledFunction> compiled_for(const std::vector<array>& args) const;
};

/// jit(f): see the top of this header.
JitFunction jit(ArrayFn f, JitOptions options = {});

namespace detail {

// Flattening of jit_tree arguments and results: arrays, Trees, and
// std::pair / std::tuple of those (nested). `structure` keys the cache.
inline void flatten_into(const array& a, std::vector<array>& out, std::string& structure) {
  out.push_back(a);
  structure += "a;";
}
inline void flatten_into(const Tree& t, std::vector<array>& out, std::string& structure) {
  auto l = t.leaves();
  out.insert(out.end(), l.begin(), l.end());
  structure += "T" + t.structure_str() + ";";
}
template <typename A, typename B>
void flatten_into(const std::pair<A, B>& p, std::vector<array>& out, std::string& structure) {
  structure += "(";
  flatten_into(p.first, out, structure);
  flatten_into(p.second, out, structure);
  structure += ")";
}
template <typename... Ts>
void flatten_into(const std::tuple<Ts...>& t, std::vector<array>& out, std::string& structure) {
  structure += "(";
  std::apply([&](const auto&... e) { (flatten_into(e, out, structure), ...); }, t);
  structure += ")";
}

inline array rebuild_from(const array&, const std::vector<array>& leaves, size_t& pos) {
  return leaves.at(pos++);
}
inline Tree rebuild_from(const Tree& like, const std::vector<array>& leaves, size_t& pos) {
  size_t n = like.leaves().size();
  std::vector<array> part(leaves.begin() + pos, leaves.begin() + pos + n);
  pos += n;
  return like.unflatten(part);
}
template <typename A, typename B>
std::pair<A, B> rebuild_from(const std::pair<A, B>& like, const std::vector<array>& leaves,
                             size_t& pos) {
  A a = rebuild_from(like.first, leaves, pos);
  B b = rebuild_from(like.second, leaves, pos);
  return {std::move(a), std::move(b)};
}
template <typename... Ts>
std::tuple<Ts...> rebuild_from(const std::tuple<Ts...>& like, const std::vector<array>& leaves,
                               size_t& pos) {
  return std::apply(
      [&](const auto&... e) { return std::tuple<Ts...>{rebuild_from(e, leaves, pos)...}; }, like);
}

}  // namespace detail

/// jit for functions of arrays, Trees and std::pair/std::tuple of them,
/// returning the same kinds of values (e.g. a training step
/// (params, opt_state, batch) -> (params, opt_state, loss)). One compiled
/// function per argument structure (tree paths) and signature.
template <typename F>
auto jit_tree(F f, JitOptions options = {}) {
  struct State {
    std::mutex mutex;
    std::map<std::string, std::pair<JitFunction, std::shared_ptr<std::any>>> by_structure;
  };
  auto state = std::make_shared<State>();
  return [f, options, state](const auto&... args) {
    using Result = std::decay_t<decltype(f(args...))>;
    std::vector<array> flat;
    std::string structure;
    (detail::flatten_into(args, flat, structure), ...);
    std::tuple<std::decay_t<decltype(args)>...> like(args...);
    JitFunction* fn;
    std::shared_ptr<std::optional<Result>> result_like;
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      auto it = state->by_structure.find(structure);
      if (it == state->by_structure.end()) {
        auto out_like = std::make_shared<std::optional<Result>>();
        ArrayFn flat_fn = [f, like, out_like](const std::vector<array>& leaves) {
          size_t pos = 0;
          auto rebuilt = detail::rebuild_from(like, leaves, pos);
          Result r = std::apply(f, rebuilt);
          std::vector<array> out;
          std::string s;
          detail::flatten_into(r, out, s);
          *out_like = r;
          return out;
        };
        it = state->by_structure
                 .emplace(structure, std::make_pair(jit(flat_fn, options),
                                                    std::shared_ptr<std::any>(
                                                        std::make_shared<std::any>(out_like))))
                 .first;
      }
      fn = &it->second.first;
      result_like = std::any_cast<std::shared_ptr<std::optional<Result>>>(*it->second.second);
    }
    std::vector<array> outs = (*fn)(flat);
    size_t pos = 0;
    return detail::rebuild_from(**result_like, outs, pos);
  };
}

}  // namespace mfx
