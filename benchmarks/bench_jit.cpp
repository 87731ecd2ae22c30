// jit against eager on reduction-heavy CPU code: row softmax, layer_norm,
// softmax forward+backward and the match-free-loss-shaped graph (cost,
// softmax, row/column max, threshold, normalise, weighted sum). Reports the
// median time of eager, jit (exact numerics) and jit (fast numerics), the
// speed-up ratios against eager in the same process, and kernels per call.
// --json FILE writes the rows as JSON.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/jit.h>
#include <mfx/mfx.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace mfx;

namespace {

double median_ms(const std::function<void()>& run) {
  using clock = std::chrono::steady_clock;
  run();
  std::vector<double> t;
  auto start = clock::now();
  while (t.size() < 5 || std::chrono::duration<double>(clock::now() - start).count() < 0.5) {
    auto t0 = clock::now();
    run();
    t.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (t.size() > 1000) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Case {
  std::string name, shape;
  ArrayFn f;
  std::vector<array> args;
};

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--json") json_path = argv[i + 1];
  }
  array key = random::key(7);
  auto normal = [&](Shape s, int i) {
    array a = random::normal(random::fold_in(key, i), s);
    a.eval();
    return a;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"softmax",
       "4096x1024",
       [](const std::vector<array>& a) { return std::vector<array>{softmax(a[0], -1)}; },
       {normal({4096, 1024}, 1)}});
  cases.push_back(
      {"layer_norm",
       "4096x1024",
       [](const std::vector<array>& a) { return std::vector<array>{layer_norm(a[0], a[1], a[2])}; },
       {normal({4096, 1024}, 2), normal({1024}, 3), normal({1024}, 4)}});
  cases.push_back(
      {"softmax_fwd_bwd",
       "4096x1024",
       [](const std::vector<array>& a) {
         auto r =
             vjp([](const std::vector<array>& p) { return std::vector<array>{softmax(p[0], -1)}; },
                 {a[0]}, std::vector<array>{a[1]});
         return std::vector<array>{r.first[0], r.second[0]};
       },
       {normal({4096, 1024}, 5), normal({4096, 1024}, 6)}});
  // A pure elementwise chain (bias, ReLU and its backward select): the
  // grid of a kernel without reductions.
  cases.push_back({"bias_relu_bwd",
                   "2400x256",
                   [](const std::vector<array>& a) {
                     array pre = a[0] + a[1];
                     array y = maximum(pre, zeros_like(pre));
                     return std::vector<array>{y, where(pre > 0.0f, a[2], zeros_like(pre))};
                   },
                   {normal({2400, 256}, 10), normal({256}, 11), normal({2400, 256}, 12)}});
  cases.push_back({"matchfree_like",
                   "8x100x300",
                   [](const std::vector<array>& a) {
                     array cost = abs(a[0] - a[1]) * 5.0f + square(a[0] * a[1]);
                     array attn = softmax(a[2], -1);
                     array r = where(attn >= max(attn, 2, true) * 0.5f, attn, zeros_like(attn));
                     array s = where(logical_and(r > 0.0f, r >= max(r, 1, true) * 0.5f), r,
                                     zeros_like(r));
                     array norm = s / (sum(s, 2, true) + 1e-6f);
                     return std::vector<array>{sum(norm * cost, std::vector<int>{1, 2})};
                   },
                   {normal({8, 100, 1}, 7), normal({8, 1, 300}, 8), normal({8, 100, 300}, 9)}});

  fmt::print("{:<16} {:<11} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}\n", "case", "shape",
             "eager ms", "jit ms", "fast ms", "x exact", "x fast", "eager k", "jit k");
  nlohmann::json rows = nlohmann::json::array();
  for (auto& c : cases) {
    auto exact = jit(c.f, {.name = c.name});
    auto fast = jit(c.f, {.name = c.name + "_fast", .fast_math = true});
    auto unfused = jit(c.f, {.name = c.name + "_unfused", .fuse = false});
    auto run = [&](const ArrayFn& f) { return [&, f] { eval(f(c.args)); }; };
    double te = median_ms(run(c.f));
    double tj = median_ms(run(exact));
    double tf = median_ms(run(fast));
    eval(unfused(c.args));
    int k_eager = unfused.stats().kernels, k_jit = exact.stats().kernels;
    fmt::print("{:<16} {:<11} {:>10.3f} {:>10.3f} {:>10.3f} {:>8.2f} {:>8.2f} {:>8} {:>8}\n",
               c.name, c.shape, te, tj, tf, te / tj, te / tf, k_eager, k_jit);
    rows.push_back({{"case", c.name},
                    {"shape", c.shape},
                    {"eager_ms", te},
                    {"jit_ms", tj},
                    {"jit_fast_ms", tf},
                    {"speedup_exact", te / tj},
                    {"speedup_fast", te / tf},
                    {"eager_kernels", k_eager},
                    {"jit_kernels", k_jit}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << rows.dump(2) << "\n";
}
