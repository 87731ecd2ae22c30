// The fusion report on disk: report.json, summary.txt and graph.html (their
// human views: report_view.h), graph.dot and the IR (and optionally PTX) of
// every generated kernel. Every file is written atomically.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "compiler/codegen.h"
#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/plan.h"
#include "compiler/jit/report_view.h"
#include "io/atomic_file.h"
#include "primitives/linalg.h"

namespace mfx::jit_detail {

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  io::AtomicFile f(path.string(), "jit report");
  f.write(text.data(), text.size());
  f.commit();
}

int64_t bytes_of(const Graph::Value& v) {
  int64_t n = 1;
  for (auto d : v.shape) n *= d;
  return n * static_cast<int64_t>(size_of(v.dtype));
}

// Modelled floating-point work of one step: arithmetic expressions times
// the points they run at for fused kernels, 2MNK for matmuls, else 0.
int64_t modelled_flops(const Graph& g, const Graph::Node& n) {
  if (auto* fk = dynamic_cast<const FusedKernel*>(n.prim.get())) {
    const auto& k = fk->kernel();
    int64_t total = 0;
    for (auto& ph : k.phases) {
      int64_t points = k.grid_size();
      for (auto e : ph.domain) points *= e;
      int64_t ops = 0;
      for (auto& e : ph.exprs) {
        ops += e.kind == compiler::ExprKind::Unary || e.kind == compiler::ExprKind::Binary ||
               e.kind == compiler::ExprKind::Select;
      }
      total += points * (ops + static_cast<int64_t>(ph.reductions.size()));
    }
    return total;
  }
  if (dynamic_cast<const Matmul*>(n.prim.get())) {
    const auto& out = g.values[n.outputs[0]].shape;
    const auto& a = g.values[n.inputs[0]].shape;
    int64_t prod = 1;
    for (auto d : out) prod *= d;
    return 2 * prod * a.back();
  }
  return 0;
}

std::string dot_graph(const Plan& plan) {
  const Graph& g = plan.program;
  std::string dot = "digraph jit {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n";
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].outputs) producer[v] = static_cast<int>(i);
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    dot += fmt::format("  v{} [label=\"input {}\\n{}\", shape=ellipse];\n", g.inputs[i], i,
                       shape_str(g.values[g.inputs[i]].shape));
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    dot += fmt::format("  subgraph cluster_{} {{\n    label=\"{} {}\";\n    style={};\n", i, s.kind,
                       s.name, s.kind == "fused" ? "filled" : "dashed");
    for (size_t k = 0; k < s.source_ops.size(); ++k) {
      dot += fmt::format("    s{}_{} [label=\"{}\"];\n", i, k, s.source_ops[k]);
    }
    dot += "  }\n";
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].inputs) {
      std::string from =
          producer[v] >= 0 ? fmt::format("s{}_0", producer[v]) : fmt::format("v{}", v);
      bool is_input = std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
      if (producer[v] < 0 && !is_input) continue;  // constants
      dot += fmt::format("  {} -> s{}_0 [label=\"{}\", fontsize=8];\n", from, i,
                         shape_str(g.values[v].shape));
    }
  }
  return dot + "}\n";
}

}  // namespace

nlohmann::json plan_report(const Plan& plan, const JitStats& stats, const JitOptions& options,
                           bool with_ptx);

std::string plan_report_json(const Plan& plan, const JitStats& stats, const JitOptions& options) {
  return plan_report(plan, stats, options, false).dump(2);
}

nlohmann::json plan_report(const Plan& plan, const JitStats& stats, const JitOptions& options,
                           bool with_ptx) {
  using nlohmann::json;
  const Graph& g = plan.program;
  json j;
  j["function"] = options.name;
  j["fuse"] = options.fuse;
  j["fast_math"] = options.fast_math;
  j["block_fusion"] = options.block_fusion;
  j["recompute"] = options.recompute;
  j["plan_for_gpu"] = options.plan_for_gpu;
  j["kernels_per_call"] = stats.kernels;
  j["host_syncs_per_call"] = 0;
  j["simplify"] = {{"traced_nodes", stats.traced_nodes},   {"executed_nodes", stats.executed_nodes},
                   {"noops_removed", stats.noops_removed}, {"cse_merged", stats.cse_merged},
                   {"dead_removed", stats.dead_removed},   {"constants", stats.constants}};
  json steps = json::array();
  int64_t total_bytes = 0, total_flops = 0;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    const auto& node = g.nodes[i];
    auto describe = [&](int v) {
      const auto& val = g.values[v];
      return json{{"value", v},
                  {"dtype", dtype_name(val.dtype)},
                  {"shape", val.shape},
                  {"bytes", bytes_of(val)}};
    };
    json ins = json::array(), outs = json::array();
    int64_t bytes = 0;
    for (int v : node.inputs) {
      ins.push_back(describe(v));
      bytes += bytes_of(g.values[v]);
    }
    for (int v : node.outputs) {
      outs.push_back(describe(v));
      bytes += bytes_of(g.values[v]);
    }
    int64_t flops = modelled_flops(g, node);
    if (s.kind != "view") {
      total_bytes += bytes;
      total_flops += flops;
    }
    json step{{"kind", s.kind},
              {"name", s.name},
              {"source_ops", s.source_ops},
              {"inputs", ins},
              {"outputs", outs},
              {"modelled_bytes", s.kind == "view" ? 0 : bytes},
              {"modelled_flops", flops}};
    if (!s.reason.empty()) step["reason"] = s.reason;
    if (auto* fk = dynamic_cast<const FusedKernel*>(node.prim.get())) {
      const auto& k = fk->kernel();
      step["grid"] = k.grid;
      json phases = json::array();
      for (auto& ph : k.phases) {
        phases.push_back({{"kind", ph.kind == compiler::PhaseKind::Map ? "map" : "reduce"},
                          {"domain", ph.domain},
                          {"reduced_axes", ph.reduced_axes}});
      }
      step["phases"] = phases;
      step["locals"] = static_cast<int>(k.locals.size());
      if (with_ptx) {
        for (auto target : {compiler::Target::Sm80, compiler::Target::Sm90}) {
          compiler::CodegenOptions co;
          co.fast_math = options.fast_math;
          try {
            auto ptx = compiler::compile_ptx(k, target, co);
            auto info = compiler::run_ptxas(ptx.ptx, target);
            step["ptx"][compiler::target_name(target)] = {
                {"registers", info.registers},     {"shared_bytes", ptx.shared_bytes},
                {"spill_bytes", info.spill_bytes}, {"block_threads", ptx.block_threads},
                {"grid_blocks", ptx.grid_blocks},  {"ok", true}};
          } catch (const std::exception& e) {
            step["ptx"][compiler::target_name(target)] = {{"ok", false}, {"error", e.what()}};
          }
        }
      }
    }
    steps.push_back(std::move(step));
  }
  j["kernels"] = std::move(steps);
  j["modelled_bytes_per_call"] = total_bytes;
  j["modelled_flops_per_call"] = total_flops;
  json mat = json::array();
  for (auto& m : plan.materialized) {
    const auto& val = g.values[m.value];
    mat.push_back({{"value", m.value},
                   {"shape", val.shape},
                   {"dtype", dtype_name(val.dtype)},
                   {"bytes", bytes_of(val)},
                   {"reason", m.reason}});
  }
  j["materialized"] = std::move(mat);
  json recomputed = json::array();
  for (int v : plan.recomputed) {
    const auto& val = g.values[v];
    recomputed.push_back({{"value", v},
                          {"shape", val.shape},
                          {"dtype", dtype_name(val.dtype)},
                          {"bytes", bytes_of(val)}});
  }
  j["recomputed"] = std::move(recomputed);
  return j;
}

void write_plan_report(const Plan& plan, const JitStats& stats, const JitOptions& options,
                       const std::string& dir, bool with_ptx) {
  namespace fs = std::filesystem;
  fs::path root(dir);
  fs::create_directories(root / "kernels");
  auto j = plan_report(plan, stats, options, with_ptx);
  write_file(root / "report.json", j.dump(2) + "\n");
  write_file(root / "graph.dot", dot_graph(plan));

  // summary.txt: the overview (at most 40 lines), then every step.
  std::string summary = report_overview(j) + "\nall steps:\n";
  summary += fmt::format("{:<4} {:<10} {:<28} {:>6} {:>12}  {}\n", "#", "kind", "name", "ops",
                         "bytes", "reason / fused ops");
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    std::string ops;
    for (auto& o : s.source_ops) ops += (ops.empty() ? "" : " ") + o;
    summary += fmt::format("{:<4} {:<10} {:<28} {:>6} {:>12}  {}\n", i, s.kind, s.name,
                           s.source_ops.size(), j["kernels"][i]["modelled_bytes"].get<int64_t>(),
                           s.kind == "fused" ? ops : s.reason);
    if (auto* fk = dynamic_cast<const FusedKernel*>(plan.program.nodes[i].prim.get())) {
      const auto& k = fk->kernel();
      compiler::CodegenOptions co;
      co.fast_math = options.fast_math;
      write_file(root / "kernels" / (s.name + ".kir"), compiler::to_string(k));
      write_file(root / "kernels" / (s.name + ".mlir"),
                 compiler::emit_mlir(k, compiler::Target::Cpu, co));
      if (with_ptx && j["kernels"][i]["ptx"]["sm_90"]["ok"] == true) {
        auto ptx = compiler::compile_ptx(k, compiler::Target::Sm90, co);
        write_file(root / "kernels" / (s.name + ".sm_90.ptx"), ptx.ptx);
      }
    }
  }
  if (!plan.materialized.empty()) summary += "\nmaterialised intermediates:\n";
  for (auto& m : plan.materialized) {
    summary += fmt::format("  value {} {} {}: {}\n", m.value,
                           dtype_name(plan.program.values[m.value].dtype),
                           shape_str(plan.program.values[m.value].shape), m.reason);
  }
  if (!plan.recomputed.empty()) {
    summary += "\nrecomputed by the kernels that read them (not stored):\n";
  }
  for (int v : plan.recomputed) {
    summary += fmt::format("  value {} {} {}\n", v, dtype_name(plan.program.values[v].dtype),
                           shape_str(plan.program.values[v].shape));
  }
  write_file(root / "summary.txt", summary);
  write_file(root / "graph.html", report_html(j));
}

}  // namespace mfx::jit_detail
