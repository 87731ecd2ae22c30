// The JSON fusion report of a plan.
#include <nlohmann/json.hpp>

#include "compiler/jit/plan.h"

namespace mfx::jit_detail {

std::string plan_report_json(const Plan& plan, const JitStats& stats, const JitOptions& options) {
  using nlohmann::json;
  json j;
  j["function"] = options.name;
  j["fuse"] = options.fuse;
  j["fast_math"] = options.fast_math;
  j["kernels_per_call"] = stats.kernels;
  j["simplify"] = {{"traced_nodes", stats.traced_nodes},   {"executed_nodes", stats.executed_nodes},
                   {"noops_removed", stats.noops_removed}, {"cse_merged", stats.cse_merged},
                   {"dead_removed", stats.dead_removed},   {"constants", stats.constants}};
  json steps = json::array();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    const auto& node = plan.program.nodes[i];
    json io_in = json::array(), io_out = json::array();
    auto describe = [&](int v) {
      const auto& val = plan.program.values[v];
      return json{{"value", v},
                  {"dtype", dtype_name(val.dtype)},
                  {"shape", val.shape},
                  {"bytes", [&] {
                     int64_t n = 1;
                     for (auto d : val.shape) n *= d;
                     return n * static_cast<int64_t>(size_of(val.dtype));
                   }()}};
    };
    for (int v : node.inputs) io_in.push_back(describe(v));
    for (int v : node.outputs) io_out.push_back(describe(v));
    json step{{"kind", s.kind},
              {"name", s.name},
              {"source_ops", s.source_ops},
              {"inputs", io_in},
              {"outputs", io_out}};
    if (!s.reason.empty()) step["reason"] = s.reason;
    steps.push_back(std::move(step));
  }
  j["kernels"] = std::move(steps);
  json mat = json::array();
  for (auto& m : plan.materialized) {
    const auto& val = plan.program.values[m.value];
    mat.push_back({{"value", m.value},
                   {"shape", val.shape},
                   {"dtype", dtype_name(val.dtype)},
                   {"reason", m.reason}});
  }
  j["materialized"] = std::move(mat);
  return j.dump(2);
}

}  // namespace mfx::jit_detail
