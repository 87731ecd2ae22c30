// The fusion report for people: an overview of what a call costs and why
// kernels split, and graph.html's layered drawing of the launched steps.
#include "compiler/jit/report_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

namespace mfx::jit_detail {

namespace {

using nlohmann::json;

// A per-step roofline: a step takes max(bytes / bandwidth, flops / peak).
// Nominal figures of the plan's target (a 2-core CPU, an H100-class GPU);
// they rank steps, they do not predict wall time.
struct Roofline {
  double bytes_per_s, flops_per_s;
  const char* label;
};

Roofline roofline_of(const json& report) {
  if (report.value("plan_for_gpu", false)) {
    return {3.0e12, 5.0e13, "GPU roofline: 3 TB/s, 50 TFLOP/s"};
  }
  return {2.0e10, 1.0e11, "CPU roofline: 20 GB/s, 100 GFLOP/s"};
}

double modelled_us(const json& step, const Roofline& m) {
  const double bytes = static_cast<double>(step.value("modelled_bytes", int64_t{0}));
  const double flops = static_cast<double>(step.value("modelled_flops", int64_t{0}));
  return std::max(bytes / m.bytes_per_s, flops / m.flops_per_s) * 1e6;
}

// "CODEGEN_UNSUPPORTED: <why>" counts as CODEGEN_UNSUPPORTED.
std::string reason_code(const std::string& reason) {
  return reason.substr(0, reason.find(':'));
}

// "Reshape x12 Divide x8 Sum" for a fused kernel's source ops, in first-seen order.
std::string ops_summary(const json& source_ops, size_t max_chars) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& o : source_ops) {
    const std::string op = o.get<std::string>();
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == op; });
    if (it == counts.end()) {
      counts.push_back({op, 1});
    } else {
      ++it->second;
    }
  }
  std::string s;
  for (auto& [op, n] : counts) {
    std::string part = n > 1 ? fmt::format("{} x{}", op, n) : op;
    if (!s.empty() && s.size() + part.size() + 1 > max_chars) return s + " ...";
    s += (s.empty() ? "" : " ") + part;
  }
  return s;
}

std::string shape_text(const json& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i].get<int64_t>());
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string bytes_text(double bytes) {
  if (bytes >= 1e6) return fmt::format("{:.2f} MB", bytes / 1e6);
  if (bytes >= 1e3) return fmt::format("{:.1f} kB", bytes / 1e3);
  return fmt::format("{:.0f} B", bytes);
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') {
      o += "&lt;";
    } else if (c == '>') {
      o += "&gt;";
    } else if (c == '&') {
      o += "&amp;";
    } else if (c == '"') {
      o += "&quot;";
    } else {
      o += c;
    }
  }
  return o;
}

// What both views show, computed once from the JSON.
struct Overview {
  std::string function;
  int launches = 0, fused = 0, library = 0, views = 0, host_syncs = 0;
  int64_t bytes = 0, flops = 0;
  double time_us = 0;
  Roofline model{};
  std::vector<std::pair<double, int>> costliest;  // (modelled us, step index), top 10
  std::vector<std::pair<std::string, int>> materialized_reasons, step_reasons;
  std::map<std::string, int64_t> materialized_bytes;
};

std::vector<std::pair<std::string, int>> sorted_counts(const std::map<std::string, int>& m) {
  std::vector<std::pair<std::string, int>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return v;
}

Overview overview_of(const json& report) {
  Overview o;
  o.function = report.value("function", std::string("jit_fn"));
  o.host_syncs = report.value("host_syncs_per_call", 0);
  o.model = roofline_of(report);
  std::map<std::string, int> step_reasons, mat_reasons;
  const json& steps = report["kernels"];
  std::vector<std::pair<double, int>> times;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const std::string kind = s.value("kind", std::string());
    if (kind == "view") {
      ++o.views;
    } else {
      ++o.launches;
      kind == "fused" ? ++o.fused : ++o.library;
      const double us = modelled_us(s, o.model);
      o.time_us += us;
      times.push_back({us, static_cast<int>(i)});
    }
    if (s.contains("reason")) ++step_reasons[reason_code(s["reason"].get<std::string>())];
  }
  o.bytes = report.value("modelled_bytes_per_call", int64_t{0});
  o.flops = report.value("modelled_flops_per_call", int64_t{0});
  std::stable_sort(times.begin(), times.end(), [](auto& a, auto& b) { return a.first > b.first; });
  times.resize(std::min<size_t>(times.size(), 10));
  o.costliest = times;
  for (const auto& m : report["materialized"]) {
    const std::string code = reason_code(m.value("reason", std::string()));
    ++mat_reasons[code];
    o.materialized_bytes[code] += m.value("bytes", int64_t{0});
  }
  o.materialized_reasons = sorted_counts(mat_reasons);
  o.step_reasons = sorted_counts(step_reasons);
  return o;
}

// --- the drawing -----------------------------------------------------------

constexpr int kBoxW = 250, kBoxH = 66, kGapX = 30, kGapY = 56, kMargin = 20;

struct Node {
  int step;          // index into report["kernels"]
  int layer = 0, slot = 0;
  bool graph_output = false;
};
struct Edge {
  int from, to;  // node indices
  std::vector<int> values;
};

std::string svg_graph(const json& report, const Overview& o) {
  const json& steps = report["kernels"];
  // Views alias their input: follow them back to the value a launch made.
  std::map<int, int> alias;
  std::map<int, int> producer;  // value -> node
  std::map<int, json> value_info;
  std::vector<Node> nodes;
  std::vector<int> node_of_step(steps.size(), -1);
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    for (const auto& v : s["inputs"]) value_info[v["value"].get<int>()] = v;
    for (const auto& v : s["outputs"]) value_info[v["value"].get<int>()] = v;
    if (s.value("kind", std::string()) == "view") {
      if (!s["inputs"].empty() && !s["outputs"].empty()) {
        alias[s["outputs"][0]["value"].get<int>()] = s["inputs"][0]["value"].get<int>();
      }
      continue;
    }
    node_of_step[i] = static_cast<int>(nodes.size());
    nodes.push_back({static_cast<int>(i)});
  }
  auto resolve = [&](int v) {
    for (int guard = 0; alias.count(v) && guard < 1 << 20; ++guard) v = alias[v];
    return v;
  };
  for (const auto& m : report["materialized"]) {
    if (m.value("reason", std::string()) != "GRAPH_OUTPUT") continue;
    const int v = m["value"].get<int>();
    for (size_t n = 0; n < nodes.size(); ++n) {
      for (const auto& out : steps[nodes[n].step]["outputs"]) {
        if (out["value"].get<int>() == v) nodes[n].graph_output = true;
      }
    }
  }
  std::vector<Edge> edges;
  std::map<std::pair<int, int>, size_t> edge_index;
  std::vector<std::vector<int>> preds(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const auto& out : steps[nodes[n].step]["outputs"]) {
      producer[out["value"].get<int>()] = static_cast<int>(n);
    }
    for (const auto& in : steps[nodes[n].step]["inputs"]) {
      const int v = resolve(in["value"].get<int>());
      auto p = producer.find(v);
      if (p == producer.end() || p->second == static_cast<int>(n)) continue;  // graph input
      auto key = std::make_pair(p->second, static_cast<int>(n));
      auto [it, fresh] = edge_index.emplace(key, edges.size());
      if (fresh) {
        edges.push_back({p->second, static_cast<int>(n), {}});
        preds[n].push_back(p->second);
      }
      auto& vals = edges[it->second].values;
      if (std::find(vals.begin(), vals.end(), v) == vals.end()) vals.push_back(v);
    }
  }
  // Layers by longest path from the inputs; within a layer, ordered by the
  // mean slot of the predecessors (one barycentre pass).
  int layers = 0;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int p : preds[n]) nodes[n].layer = std::max(nodes[n].layer, nodes[p].layer + 1);
    layers = std::max(layers, nodes[n].layer + 1);
  }
  std::vector<std::vector<int>> by_layer(layers);
  for (size_t n = 0; n < nodes.size(); ++n) by_layer[nodes[n].layer].push_back(static_cast<int>(n));
  size_t widest = 1;
  for (auto& row : by_layer) {
    std::vector<double> key(row.size());
    for (size_t k = 0; k < row.size(); ++k) {
      const auto& ps = preds[row[k]];
      key[k] = ps.empty() ? static_cast<double>(k)
                          : std::accumulate(ps.begin(), ps.end(), 0.0,
                                            [&](double a, int p) { return a + nodes[p].slot; }) /
                                static_cast<double>(ps.size());
    }
    std::vector<size_t> order(row.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
    std::vector<int> sorted;
    for (size_t k = 0; k < order.size(); ++k) {
      nodes[row[order[k]]].slot = static_cast<int>(k);
      sorted.push_back(row[order[k]]);
    }
    row = sorted;
    widest = std::max(widest, row.size());
  }
  const int width = kMargin * 2 + static_cast<int>(widest) * (kBoxW + kGapX);
  const int height = kMargin * 2 + std::max(layers, 1) * (kBoxH + kGapY);
  auto x_of = [&](const Node& n) {
    // Each layer centred.
    const int row = static_cast<int>(by_layer[n.layer].size());
    const int offset = (static_cast<int>(widest) - row) * (kBoxW + kGapX) / 2;
    return kMargin + offset + n.slot * (kBoxW + kGapX);
  };
  auto y_of = [&](const Node& n) { return kMargin + n.layer * (kBoxH + kGapY); };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\">\n"
      "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
      "markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#667\"/>"
      "</marker></defs>\n",
      width, height, width, height);
  for (const Edge& e : edges) {
    const Node &a = nodes[e.from], &b = nodes[e.to];
    const double x1 = x_of(a) + kBoxW / 2.0, y1 = y_of(a) + kBoxH;
    const double x2 = x_of(b) + kBoxW / 2.0, y2 = y_of(b);
    const double my = (y1 + y2) / 2;
    int64_t bytes = 0;
    std::string label;
    for (int v : e.values) {
      bytes += value_info[v].value("bytes", int64_t{0});
      if (label.empty()) label = shape_text(value_info[v]["shape"]);
    }
    if (e.values.size() > 1) label += fmt::format(" +{}", e.values.size() - 1);
    label += " " + bytes_text(static_cast<double>(bytes));
    svg += fmt::format(
        "<g class=\"edge\"><title>{}</title><path d=\"M{:.0f},{:.0f} C{:.0f},{:.0f} {:.0f},{:.0f} "
        "{:.0f},{:.0f}\" fill=\"none\" stroke=\"#99a\" marker-end=\"url(#arrow)\"/>"
        "<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"9\" fill=\"#556\">{}</text></g>\n",
        escape(label), x1, y1, x1, my, x2, my, x2, y2 - 2, (x1 + x2) / 2 + 3, my - 2,
        escape(label));
  }
  for (const Node& n : nodes) {
    const json& s = steps[n.step];
    const std::string kind = s.value("kind", std::string());
    const bool fused = kind == "fused";
    const int x = x_of(n), y = y_of(n);
    const std::string name = s.value("name", std::string());
    const std::string title =
        fused ? fmt::format("{} · {} ops", name, s["source_ops"].size())
              : fmt::format("{} · {}", name, reason_code(s.value("reason", std::string())));
    const std::string fill = fused ? "#dbeafe" : kind == "primitive" ? "#fde68a" : "#fecaca";
    const std::string ops = fused ? ops_summary(s["source_ops"], 40) : "library call";
    svg += fmt::format(
        "<g class=\"{}\" data-step=\"{}\"><title>{} {}: {}</title>"
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{}\" stroke=\"{}\" "
        "stroke-width=\"{}\"/>"
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" font-weight=\"bold\">{}</text>"
        "<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>"
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#445\">{} · {:.1f} us modelled{}</text>"
        "</g>\n",
        fused ? "kernel" : "kernel library", n.step, escape(kind), escape(name),
        escape(ops_summary(s["source_ops"], 400)), x, y, kBoxW, kBoxH, fused ? 4 : 14, fill,
        n.graph_output ? "#b91c1c" : "#334", n.graph_output ? 2.5 : 1, x + 8, y + 17,
        escape(title), x + 8, y + 34, escape(ops), x + 8, y + 54,
        bytes_text(static_cast<double>(s.value("modelled_bytes", int64_t{0}))),
        modelled_us(s, o.model), n.graph_output ? " · output" : "");
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string report_overview(const json& report) {
  const Overview o = overview_of(report);
  const json& steps = report["kernels"];
  const json& simp = report.contains("simplify") ? report["simplify"] : json::object();
  std::string t = fmt::format(
      "jit function {}: {} launches per call ({} fused kernels, {} library/primitive calls), "
      "{} host syncs; {} views need no launch\n",
      o.function, o.launches, o.fused, o.library, o.host_syncs, o.views);
  t += fmt::format("traced {} nodes -> executed {} (identity {}, CSE {}, dead {}, constants {})\n",
                   simp.value("traced_nodes", 0), simp.value("executed_nodes", 0),
                   simp.value("noops_removed", 0), simp.value("cse_merged", 0),
                   simp.value("dead_removed", 0), simp.value("constants", 0));
  t += fmt::format("modelled per call: {:.3f} MB moved, {:.3f} MFLOP, {:.1f} us ({})\n",
                   static_cast<double>(o.bytes) / 1e6, static_cast<double>(o.flops) / 1e6,
                   o.time_us, o.model.label);
  t += "costliest steps (modelled):\n";
  for (auto [us, i] : o.costliest) {
    const json& s = steps[i];
    const bool fused = s.value("kind", std::string()) == "fused";
    t += fmt::format("  #{:<4} {:<24} {:>9.1f} us {:>10}  {}\n", i, s.value("name", std::string()),
                     us, bytes_text(static_cast<double>(s.value("modelled_bytes", int64_t{0}))),
                     fused ? ops_summary(s["source_ops"], 48) : s.value("reason", std::string()));
  }
  auto counted = [&](const char* head, const std::vector<std::pair<std::string, int>>& v,
                     const std::map<std::string, int64_t>* bytes) {
    if (v.empty()) return;
    t += head;
    for (size_t k = 0; k < v.size() && k < 8; ++k) {
      t += fmt::format("  {:<26} {:>5}", v[k].first, v[k].second);
      if (bytes) t += "  " + bytes_text(static_cast<double>(bytes->at(v[k].first)));
      t += "\n";
    }
  };
  counted("values written between steps, by reason:\n", o.materialized_reasons,
          &o.materialized_bytes);
  if (report.contains("recomputed") && !report["recomputed"].empty()) {
    int64_t bytes = 0;
    for (const auto& r : report["recomputed"]) bytes += r.value("bytes", int64_t{0});
    t += fmt::format("  recomputed by their readers instead: {} values, {}\n",
                     report["recomputed"].size(), bytes_text(static_cast<double>(bytes)));
  }
  counted("steps outside fused kernels, by reason:\n", o.step_reasons, nullptr);
  return t;
}

std::string report_html(const json& report) {
  const Overview o = overview_of(report);
  const json& steps = report["kernels"];
  std::string h =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mfx jit " +
      escape(o.function) +
      "</title>\n<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse;"
      "margin:8px 0}td,th{border:1px solid #ccd;padding:3px 8px;font-size:13px;text-align:left}"
      "th{background:#eef}.num{text-align:right}.graph{overflow:auto;border:1px solid #ccd;"
      "max-height:80vh}.legend span{display:inline-block;padding:2px 8px;margin-right:8px;"
      "border:1px solid #334}</style></head><body>\n";
  h += "<h1>jit " + escape(o.function) + "</h1>\n<table class=\"overview\">";
  auto row = [&](const std::string& k, const std::string& v) {
    h += "<tr><th>" + escape(k) + "</th><td>" + escape(v) + "</td></tr>";
  };
  row("launches per call", fmt::format("{} ({} fused kernels, {} library/primitive calls)",
                                       o.launches, o.fused, o.library));
  row("host syncs per call", std::to_string(o.host_syncs));
  row("views (no launch)", std::to_string(o.views));
  row("modelled bytes per call", bytes_text(static_cast<double>(o.bytes)));
  row("modelled FLOPs per call", fmt::format("{:.3f} MFLOP", static_cast<double>(o.flops) / 1e6));
  row("modelled time per call", fmt::format("{:.1f} us ({})", o.time_us, o.model.label));
  h += "</table>\n<h2>Costliest steps (modelled)</h2>\n<table><tr><th>step</th><th>name</th>"
       "<th>kind</th><th class=\"num\">us</th><th class=\"num\">bytes</th><th>ops / reason</th></tr>";
  for (auto [us, i] : o.costliest) {
    const json& s = steps[i];
    const bool fused = s.value("kind", std::string()) == "fused";
    h += fmt::format(
        "<tr><td>#{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1f}</td>"
        "<td class=\"num\">{}</td><td>{}</td></tr>",
        i, escape(s.value("name", std::string())), escape(s.value("kind", std::string())), us,
        bytes_text(static_cast<double>(s.value("modelled_bytes", int64_t{0}))),
        escape(fused ? ops_summary(s["source_ops"], 80) : s.value("reason", std::string())));
  }
  h += "</table>\n<h2>Why kernels split</h2>\n<table><tr><th>values written between steps</th>"
       "<th class=\"num\">count</th><th class=\"num\">bytes</th></tr>";
  for (auto& [code, n] : o.materialized_reasons) {
    h += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                     escape(code), n,
                     bytes_text(static_cast<double>(o.materialized_bytes.at(code))));
  }
  h += "</table><table><tr><th>steps outside fused kernels</th><th class=\"num\">count</th></tr>";
  for (auto& [code, n] : o.step_reasons) {
    h += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td></tr>", escape(code), n);
  }
  h += "</table>\n<h2>Graph</h2>\n<p class=\"legend\"><span style=\"background:#dbeafe\">fused "
       "kernel</span><span style=\"background:#fde68a;border-radius:10px\">library or "
       "primitive call</span><span style=\"border:2.5px solid #b91c1c\">writes a program "
       "output</span> Edges carry the values written between steps (shape, bytes); views are "
       "folded into them.</p>\n<div class=\"graph\">\n" +
       svg_graph(report, o) + "</div>\n";
  h += "<h2>All steps</h2>\n<table><tr><th>#</th><th>kind</th><th>name</th><th>ops / reason</th>"
       "<th class=\"num\">bytes</th><th>code</th></tr>";
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const std::string kind = s.value("kind", std::string()), name = s.value("name", std::string());
    const bool fused = kind == "fused";
    h += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>"
        "</tr>",
        kind == "view" ? " style=\"color:#889\"" : "", i, escape(kind), escape(name),
        escape(fused ? ops_summary(s["source_ops"], 120) : s.value("reason", std::string())),
        bytes_text(static_cast<double>(s.value("modelled_bytes", int64_t{0}))),
        fused ? fmt::format("<a href=\"kernels/{0}.kir\">IR</a> <a href=\"kernels/{0}.mlir\">"
                            "MLIR</a>",
                            escape(name))
              : "");
  }
  return h + "</table>\n</body></html>\n";
}

}  // namespace mfx::jit_detail
