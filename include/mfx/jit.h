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

#include <memory>
#include <string>
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
};

class JitFunction {
 public:
  JitFunction(ArrayFn f, JitOptions options);
  /// Calls the compiled function (traces on the first call of a signature).
  std::vector<array> operator()(const std::vector<array>& args) const;
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

  struct State;

 private:
  std::shared_ptr<State> state_;
};

/// jit(f): see the top of this header.
JitFunction jit(ArrayFn f, JitOptions options = {});

}  // namespace mfx
