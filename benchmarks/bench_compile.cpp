// Cold jit compile time of the match-free loss with all gradients (the
// training step's criterion) per ground-truth bucket M: the first call of a
// fresh jit (trace + plan + compile + one run) with the on-disk kernel cache
// off, the kernels it compiled and their summed LLVM time (larger than the
// wall time when kernels compile in parallel), then the steady-state step.
//
//   bench_compile [--quick] [--m 8,16,32] [--steady SECONDS] [--json FILE]
//
// Paper size: 6 decoder layers, B = 8, N = 300, K = 91, D = 256; --quick:
// 2 layers, B = 2, N = 100. Every M gets new kernels (static shapes), so each
// row is one "new shape" as a training run meets it. --steady sets how long
// the steady step is timed (default 0.5 s; longer for a profiler).
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/criteria_trees.h>
#include <mfx/jit.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_utils.h"
#include "compiler/kernel_cache.h"

using namespace mfx;
using namespace mfx::criteria;

namespace {

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  std::vector<int> ms{8, 16, 32};
  int layers = 6, B = 8, N = 300, K = 91, D = 256;
  double steady_s = 0.5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      layers = 2, B = 2, N = 100;
    } else if (a == "--m" && i + 1 < argc) {
      ms = parse_list(argv[++i]);
    } else if (a == "--steady" && i + 1 < argc) {
      steady_s = std::stod(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      fmt::print(stderr, "usage: {} [--quick] [--m 8,16,32] [--steady SECONDS] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  // Cold: compile every kernel instead of loading it from disk.
  setenv("MFX_CACHE_DIR", "off", 1);
  auto& cache = compiler::KernelCache::global();

  const array key = random::key(0);
  const DecoderOutputs o = bench::random_decoder_outputs(key, layers, B, N, K, D);
  const Tree outs = outputs_tree(o);
  const Tree probe = init_probe(random::fold_in(key, 7), K, D);
  eval(probe.leaves());

  fmt::print("match-free loss fwd+bwd, {} layers, B={} N={} K={} D={}, cold jit per GT bucket M "
             "({} cores)\n\n",
             layers, B, N, K, D, std::thread::hardware_concurrency());
  bench::print_blas_note();
  fmt::print("| M | first call s | kernels compiled | summed compile s | step ms |\n");
  fmt::print("|---:|---:|---:|---:|---:|\n");
  nlohmann::json rows = nlohmann::json::array();
  for (int M : ms) {
    std::vector<array> labels, boxes;
    for (int b = 0; b < B; ++b) {
      const int m = b == 0 ? M : 1 + (b * 5) % M;  // the bucket's largest image has M
      labels.push_back(random::randint(random::fold_in(key, 100 + b), 0, K, {m}));
      boxes.push_back(sigmoid(random::normal(random::fold_in(key, 200 + b), {m, 4})) * 0.5f +
                      0.25f);
    }
    const Targets t = pad_targets(labels, boxes, M);
    const Tree targets{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
    auto jstep = jit_tree(matchfree_loss_and_grads(layers), {.name = "matchfree_step"});
    auto run = [&] {
      auto [l, gp, go] = jstep(probe, outs, targets);
      std::vector<array> all{l};
      for (auto& x : gp.leaves()) all.push_back(x);
      for (auto& x : go.leaves()) all.push_back(x);
      eval(all);
    };
    const auto before = cache.stats();
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double first_s = seconds_since(t0);
    const auto after = cache.stats();
    const double step_ms = bench::median_ms(run, 3, steady_s, steady_s > 0.5 ? 100000 : 10);
    const int64_t compiled = after.compiles - before.compiles;
    const double summed = after.compile_seconds - before.compile_seconds;
    fmt::print("| {} | {:.2f} | {} | {:.2f} | {:.1f} |\n", M, first_s, compiled, summed, step_ms);
    rows.push_back({{"M", M},
                    {"first_call_s", first_s},
                    {"kernels_compiled", compiled},
                    {"summed_compile_s", summed},
                    {"step_ms", step_ms}});
  }
  if (!json_path.empty()) {
    const nlohmann::json j{{"blas", bench::blas_info()},
                           {"workload", {{"layers", layers}, {"B", B}, {"N", N}, {"K", K},
                                         {"D", D}, {"cores", std::thread::hardware_concurrency()}}},
                           {"rows", rows}};
    if (!bench::write_text(json_path, j.dump(1) + "\n")) return 1;
  }
  return 0;
}
