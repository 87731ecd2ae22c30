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

#include "mfx/train/metrics_log.h"
#include "mfx/train/plot.h"

using namespace mfx;

namespace {

[[noreturn]] void usage(const std::string& error) {
  fmt::print(stderr,
             "{}\nusage: plot_metrics --y METRIC [--x step|epoch] [--title TEXT] --out FILE.png "
             "LABEL=metrics.jsonl...\n",
             error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string y, x = "step", out, title;
  std::map<std::string, std::string> runs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--y") {
      y = value();
    } else if (a == "--x") {
      x = value();
    } else if (a == "--out") {
      out = value();
    } else if (a == "--title") {
      title = value();
    } else if (auto eq = a.find('='); eq != std::string::npos && eq > 0) {
      runs[a.substr(0, eq)] = a.substr(eq + 1);
    } else {
      usage("unknown argument " + a);
    }
  }
  if (y.empty() || out.empty() || runs.empty()) usage("--y, --out and at least one run are needed");
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
