// Execution plan of a simplified graph (internal): an ordered list of steps,
// each a primitive call (a library/opaque op or a generated fused kernel),
// plus the fusion report data.
#pragma once

#include <string>

#include "compiler/jit/graph.h"
#include "mfx/jit.h"

namespace mfx::jit_detail {

struct Plan {
  /// The executed program: primitives of the simplified graph, with fused
  /// groups replaced by one FusedKernel node each.
  Graph program;
  /// Report entries, one per step of `program`.
  struct Step {
    std::string kind;  // "fused" or "primitive"
    std::string name;
    std::vector<std::string> source_ops;
    std::string reason;  // why the step is not part of a fused kernel
  };
  std::vector<Step> steps;
  /// Values a fused kernel writes to memory, and why (GRAPH_OUTPUT,
  /// OPAQUE_CONSUMER, VIEW_CONSUMER, OTHER_KERNEL_CONSUMER).
  struct Materialized {
    int value;
    std::string reason;
  };
  std::vector<Materialized> materialized;
  /// Values a kernel would have stored only for later kernels, which those
  /// compute again from values in memory instead (JitOptions::recompute).
  std::vector<int> recomputed;
  /// With MFX_JIT_PROFILE: the fused kernels by compile time, largest first.
  std::string compile_profile;
  /// Steps that launch work (fused kernels and primitive calls; views are free).
  int launches() const {
    int n = 0;
    for (auto& s : steps) n += s.kind != "view";
    return n;
  }
};

/// What a plan is for. A jitted program on the CPU thread pool may split
/// groups to keep the threads busy and leave long strided reductions to the
/// library (serial_group, long_strided_reduction in plan.cpp); a plan that
/// must be one kernel when it can be (the GPU's one-op kernels) must not. A
/// GPU program bounds locals by shared memory and turns small scatter-adds
/// and matmuls into fusable reductions (small_contractions.h).
enum class PlanTarget { SingleKernel, CpuProgram, GpuProgram };

/// Plans the simplified graph: with options.fuse, groups fusible nodes into
/// generated kernels; otherwise every node is its own step.
Plan make_plan(const Graph& simplified, const JitOptions& options,
               PlanTarget target = PlanTarget::SingleKernel);

/// The plan as text, one line per step in execution order: its kind, name,
/// the ops it runs, the values it reads and writes (vN: value N of
/// plan.program) and, for steps outside fused kernels, the reason code; then
/// one line per value a fused kernel stores, with its reason. Golden
/// tests compare it (tests/test_jit_plan_golden.cpp), so a change in
/// grouping reads as a diff.
std::string plan_text(const Plan& plan);

/// JSON fusion report of a plan.
std::string plan_report_json(const Plan& plan, const JitStats& stats, const JitOptions& options);

/// Writes the report files into `dir` (created): report.json, summary.txt,
/// graph.dot, graph.html and kernels/<name>.{kir,mlir[,sm_90.ptx]}. With
/// `with_ptx` every fused kernel is also compiled for sm_80 and sm_90 and
/// assembled by ptxas, and the JSON records registers/shared memory.
void write_plan_report(const Plan& plan, const JitStats& stats, const JitOptions& options,
                       const std::string& dir, bool with_ptx);

}  // namespace mfx::jit_detail
