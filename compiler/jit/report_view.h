// Views of a fusion report for people (internal): the overview that opens
// summary.txt and graph.html, and graph.html itself — a drawn graph of the
// launched steps. Both read only the report's JSON (plan_report).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mfx::jit_detail {

/// At most 40 lines: launches per call by kind, host syncs, modelled bytes,
/// FLOPs and time (a roofline of the plan's target), the 10 steps with the
/// largest modelled time, and the reasons that split kernels, counted.
std::string report_overview(const nlohmann::json& report);

/// A self-contained HTML page: the overview as a table, an SVG with one box
/// per launched step (fused kernels with their ops, library calls as
/// distinct nodes; views folded into the edges) and the values between them
/// on the edges with their bytes, then the full step list. Kernel IR and
/// MLIR are linked from kernels/<name>.kir|.mlir beside the page.
std::string report_html(const nlohmann::json& report);

}  // namespace mfx::jit_detail
