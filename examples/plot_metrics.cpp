// Plots one metric of several training runs in one PNG chart, e.g. the
// validation AP of the Hungarian and the match-free run side by side:
//
//   plot_metrics --y AP --x epoch --out ap.png hungarian=RUN1/metrics.jsonl
//                matchfree=RUN2/metrics.jsonl
//
// Each positional argument is LABEL=PATH to a train_coco metrics.jsonl.
#include <fmt/format.h>

#include <map>
#include <string>

#include "flags.h"
#include "mfx/train/metrics_log.h"
#include "mfx/train/plot.h"

using namespace mfx;

int main(int argc, char** argv) {
  std::string y, x = "step", out, title;
  examples::Flags flags("plot_metrics",
                        "Plots one metric of several train_coco runs in one PNG chart; each run\n"
                        "is LABEL=PATH to its metrics.jsonl.",
                        "LABEL=metrics.jsonl...");
  flags.text("--y", "METRIC", y, "the metric, e.g. AP, AP50, loss (required)");
  flags.text("--x", "step|epoch", x, "the x axis", {"step", "epoch"});
  flags.text("--out", "FILE.png", out, "the chart (required)");
  flags.text("--title", "TEXT", title, "chart title (default: the metric)");
  std::map<std::string, std::string> runs;
  for (const std::string& a : flags.parse(argc, argv)) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) flags.fail("a run is LABEL=PATH, got '" + a + "'");
    runs[a.substr(0, eq)] = a.substr(eq + 1);
  }
  if (y.empty() || out.empty() || runs.empty()) {
    flags.fail("--y, --out and at least one run are needed");
  }
  try {
    std::map<std::string, train::Series> series;
    for (const auto& [label, path] : runs) {
      auto [xs, ys] = train::metric_series(train::read_metrics(path), x, y);
      if (xs.empty())
        throw std::runtime_error(fmt::format("{} has no rows with {} and {}", path, x, y));
      series[label] = {xs, ys};
    }
    train::plot_lines(out, series,
                      {.title = title.empty() ? y : title, .x_label = x, .y_label = y});
    fmt::print("wrote {}\n", out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "plot_metrics: {}\n", e.what());
    return 1;
  }
  return 0;
}
