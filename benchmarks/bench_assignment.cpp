// Times the exact linear assignment solver (mfx::criteria::linear_sum_assignment)
// on DETR-sized problems: N queries x M ground truths with uniform random
// costs, solved as the [M, N] (GTs x queries) matrix the criterion builds.
// Prints a table and, with --json FILE, writes the results as JSON.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/assignment.h>
#include <mfx/mfx.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "bench_utils.h"

using namespace mfx;

namespace {

struct Case {
  std::string name;             // stable id
  std::string shape;            // human-readable sizes
  int64_t solves;               // assignments per call of `run` (images in a batch)
  std::function<double()> run;  // returns the total cost (kept so the work is not elided)
};

// Median over repeated calls, each timed alone, over at least `min_seconds`
// and `min_iters` runs (first run discarded as warm-up).
double median_ms(const std::function<double()>& run, double min_seconds, int min_iters,
                 double& sink) {
  using clock = std::chrono::steady_clock;
  sink += run();
  std::vector<double> times;
  auto start = clock::now();
  while (static_cast<int>(times.size()) < min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    auto t0 = clock::now();
    sink += run();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (times.size() > 20000) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::vector<double> uniform_costs(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> c(count);
  for (auto& x : c) x = unit(rng);
  return c;
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  struct Size {
    int64_t queries, gts;
  };
  for (auto s : {Size{300, 10}, Size{300, 50}, Size{300, 100}, Size{900, 100}}) {
    auto c = std::make_shared<std::vector<double>>(uniform_costs(s.gts * s.queries, s.gts));
    cases.push_back({fmt::format("raw_{}x{}", s.queries, s.gts),
                     fmt::format("{} queries x {} GTs", s.queries, s.gts), 1, [c, s] {
                       return criteria::linear_sum_assignment(c->data(), s.gts, s.queries).cost;
                     }});
  }
  // The array entry point on a float32 [M, N] array (conversion included).
  {
    array a(uniform_costs(100 * 300, 7), {100, 300}, float32);
    a.eval();
    cases.push_back({"array_f32_300x100", "300 queries x 100 GTs, float32 array", 1,
                     [a] { return criteria::linear_sum_assignment(a).cost; }});
  }
  // A padded batch as the criterion sees it: 8 images, up to 100 GTs each.
  {
    const int64_t B = 8, M = 100, N = 300;
    array a(uniform_costs(B * M * N, 8), {B, M, N}, float32);
    a.eval();
    std::vector<int64_t> valid = {7, 100, 23, 0, 55, 12, 80, 3};
    cases.push_back({"batched_8x300x100", "8 images x 300 queries x <=100 GTs", B, [a, valid] {
                       double total = 0;
                       for (auto& r : criteria::batched_linear_sum_assignment(a, valid))
                         total += r.cost;
                       return total;
                     }});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  double min_seconds = 0.5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc)
      json_path = argv[++i];
    else if (a == "--quick")
      min_seconds = 0.05;
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick]\n", argv[0]);
      return 2;
    }
  }
  auto cases = make_cases();
  double sink = 0;
  fmt::print("{:<20} {:<38} {:>12} {:>14}\n", "case", "shape", "median ms", "ms per image");
  std::string json = "[\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& c = cases[i];
    double ms = median_ms(c.run, min_seconds, 5, sink);
    double per = ms / static_cast<double>(c.solves);
    fmt::print("{:<20} {:<38} {:>12.4f} {:>14.4f}\n", c.name, c.shape, ms, per);
    json += fmt::format(
        "  {{\"name\": \"{}\", \"shape\": \"{}\", \"ms\": {:.6f}, \"ms_per_solve\": {:.6f}}}{}\n",
        c.name, c.shape, ms, per, i + 1 < cases.size() ? "," : "");
  }
  json += "]\n";
  if (sink == -1.0) std::puts("");  // keeps the solved costs observable
  if (!json_path.empty()) {
    if (!bench::write_text(json_path, json)) return 1;
  }
  return 0;
}
