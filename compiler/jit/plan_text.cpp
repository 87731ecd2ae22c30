// A plan rendered as plain text, for golden tests (see plan.h).
#include <fmt/format.h>

#include "compiler/jit/plan.h"

namespace mfx::jit_detail {

std::string plan_text(const Plan& plan) {
  const auto& values = plan.program.values;
  auto ids = [](const std::vector<int>& vs) {
    std::string t;
    for (int v : vs) t += fmt::format("{}v{}", t.empty() ? "" : " ", v);
    return t;
  };
  auto typed = [&](int v) {
    return fmt::format("v{} {}{}", v, dtype_name(values[v].dtype), shape_str(values[v].shape));
  };
  std::string text;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Plan::Step& s = plan.steps[i];
    const auto& node = plan.program.nodes[i];
    std::string ops, outs;
    for (const auto& o : s.source_ops) ops += (ops.empty() ? "" : " ") + o;
    for (int v : node.outputs) outs += (outs.empty() ? "" : ", ") + typed(v);
    text += fmt::format("{} {} [{}] {} -> {}{}\n", s.kind, s.name, ops, ids(node.inputs), outs,
                        s.reason.empty() ? "" : ": " + s.reason);
  }
  for (const auto& m : plan.materialized) {
    text += fmt::format("stored {}: {}\n", typed(m.value), m.reason);
  }
  return text;
}

}  // namespace mfx::jit_detail
