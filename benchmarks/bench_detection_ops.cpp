// Times ms_deform_attn forward and forward+backward (float32) at two encoder
// sizes, against the reference strategy written in mfx ops: Deformable
// DETR's ms_deform_attn_core_pytorch (one grid_sample per level, a stack and
// an attention-weighted sum), run in the same process on the same inputs.
//   small:  a 256x256 image, levels 32x32/16x16/8x8/4x4 (S = Q = 1360), B = 2
//   r50:    an 800x1333 image, levels 100x167/50x84/25x42/13x21
//           (S = Q = 22223), B = 1 by default (--batch 2 for the full size)
// Both use H = 8 heads x Dh = 32, L = 4 levels, P = 4 points.
// Prints a table and, with --json FILE, writes the results as JSON.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/mfx.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include "bench_utils.h"

using namespace mfx;

namespace {

using Levels = std::vector<std::pair<int64_t, int64_t>>;

// Median of repeated runs over at least `min_seconds` and `min_iters` runs
// (after one warm-up run).
double median_ms(const std::function<void()>& run, double min_seconds, int min_iters) {
  using clock = std::chrono::steady_clock;
  run();
  std::vector<double> times;
  auto start = clock::now();
  while (static_cast<int>(times.size()) < min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    auto t0 = clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

array uniform(const Shape& shape, float lo, float hi, uint64_t seed) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  array a(v, shape, float32);
  a.eval();
  return a;
}

// The reference strategy in mfx ops (see the file comment).
array msda_reference(const array& value, const Levels& levels, const array& loc, const array& w) {
  const int64_t b = value.shape(0), m = value.shape(2), d = value.shape(3);
  const int64_t q = loc.shape(1), nl = loc.shape(3), p = loc.shape(4);
  array grids = loc * 2.0f - 1.0f;
  std::vector<array> sampled;
  int64_t start = 0;
  for (int64_t l = 0; l < nl; ++l) {
    auto [hh, ww] = levels[l];
    array v = slice_axis(value, 1, start, start + hh * ww);
    v = reshape(transpose(v, {0, 2, 3, 1}), {b * m, d, hh, ww});
    array g = take(grids, array(static_cast<int32_t>(l)), 3);
    g = reshape(transpose(g, {0, 2, 1, 3, 4}), {b * m, q, p, 2});
    sampled.push_back(grid_sample(v, g));
    start += hh * ww;
  }
  array s = reshape(stack(sampled, 3), {b * m, d, q, nl * p});
  array aw = reshape(transpose(w, {0, 2, 1, 3, 4}), {b * m, 1, q, nl * p});
  return transpose(reshape(sum(s * aw, -1), {b, m * d, q}), {0, 2, 1});
}

// Threads the CPU kernels use (the thread pool's rule: MFX_NUM_THREADS, else
// the core count).
int threads() {
  if (const char* env = std::getenv("MFX_NUM_THREADS")) return std::atoi(env);
  return static_cast<int>(std::thread::hardware_concurrency());
}

struct Config {
  std::string name;
  Levels levels;
  int64_t batch;
};

struct Row {
  std::string config, impl, pass, shape;
  double ms;
};

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  double min_seconds = 1.0;
  int min_iters = 3;
  int64_t r50_batch = 1;
  bool skip_r50 = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--batch" && i + 1 < argc) {
      r50_batch = std::stoll(argv[++i]);
    } else if (a == "--quick") {
      min_seconds = 0.05;
      min_iters = 1;
    } else if (a == "--small-only") {
      skip_r50 = true;
    } else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick] [--batch B] [--small-only]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<Config> configs = {{"small", {{32, 32}, {16, 16}, {8, 8}, {4, 4}}, 2}};
  if (!skip_r50) configs.push_back({"r50", {{100, 167}, {50, 84}, {25, 42}, {13, 21}}, r50_batch});
  const int64_t H = 8, D = 32, P = 4;

  std::vector<Row> rows;
  fmt::print("{:<6} {:<10} {:<8} {:<34} {:>10}\n", "config", "impl", "pass", "shape", "median ms");
  for (auto& c : configs) {
    int64_t S = 0;
    for (auto [h, w] : c.levels) S += h * w;
    const int64_t B = c.batch, Q = S, L = static_cast<int64_t>(c.levels.size());
    array value = uniform({B, S, H, D}, -1, 1, 1);
    array loc = uniform({B, Q, H, L, P, 2}, 0, 1, 2);
    array weight = uniform({B, Q, H, L, P}, 0, 1.0f / (L * P), 3);
    array ct = uniform({B, Q, H * D}, -1, 1, 4);
    const std::string shape = fmt::format("B={} S=Q={} H={} Dh={} L={} P={}", B, S, H, D, L, P);
    const Levels levels = c.levels;
    using Impl = std::function<array(const std::vector<array>&)>;
    std::vector<std::pair<std::string, Impl>> impls = {
        {"primitive",
         [levels](const std::vector<array>& x) {
           return ms_deform_attn(x[0], levels, x[1], x[2]);
         }},
        {"reference",
         [levels](const std::vector<array>& x) {
           return msda_reference(x[0], levels, x[1], x[2]);
         }},
    };
    for (auto& [impl, f] : impls) {
      auto fn = [f](const std::vector<array>& x) { return std::vector<array>{f(x)}; };
      double fwd = median_ms([&] { f({value, loc, weight}).eval(); }, min_seconds, min_iters);
      double both = median_ms(
          [&] {
            auto [outs, grads] = vjp(fn, {value, loc, weight}, std::vector<array>{ct});
            grads.push_back(outs[0]);
            eval(grads);
          },
          min_seconds, min_iters);
      for (auto [pass, ms] : {std::pair<const char*, double>{"fwd", fwd}, {"fwd+bwd", both}}) {
        rows.push_back({c.name, impl, pass, shape, ms});
        fmt::print("{:<6} {:<10} {:<8} {:<34} {:>10.2f}\n", c.name, impl, pass, shape, ms);
      }
    }
  }
  // Speed-up of the primitive over the reference strategy per config and pass.
  for (auto& r : rows) {
    if (r.impl != "primitive") continue;
    for (auto& o : rows) {
      if (o.impl == "reference" && o.config == r.config && o.pass == r.pass) {
        fmt::print("{:<6} {:<8} primitive is {:.1f}x faster than the reference strategy\n",
                   r.config, r.pass, o.ms / r.ms);
      }
    }
  }
  if (!json_path.empty()) {
    std::string json = "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& r = rows[i];
      json += fmt::format(
          "  {{\"config\": \"{}\", \"impl\": \"{}\", \"pass\": \"{}\", \"shape\": \"{}\", "
          "\"threads\": {}, \"ms\": {:.4f}}}{}\n",
          r.config, r.impl, r.pass, r.shape, threads(), r.ms, i + 1 < rows.size() ? "," : "");
    }
    json += "]\n";
    if (!bench::write_text(json_path, json)) return 1;
  }
  return 0;
}
