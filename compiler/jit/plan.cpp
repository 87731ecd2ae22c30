// Planning: which nodes of the simplified graph become one generated kernel.
#include "compiler/jit/plan.h"

namespace mfx::jit_detail {

Plan make_plan(const Graph& g, const JitOptions& options) {
  Plan plan;
  plan.program = g;
  for (auto& n : g.nodes) {
    plan.steps.push_back({"primitive",
                          n.prim->name(),
                          {n.prim->name()},
                          options.fuse ? "NOT_FUSIBLE" : "FUSION_DISABLED"});
  }
  return plan;
}

}  // namespace mfx::jit_detail
