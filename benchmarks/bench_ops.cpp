// Times core CPU ops (elementwise, reductions, matmul, conv2d) at a few sizes.
// Prints a table and, with --json FILE, writes the results as JSON; the
// numpy comparison (benchmarks/compare_numpy.py) runs the same list.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/mfx.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>
#include "bench_utils.h"

using namespace mfx;

namespace {

struct Case {
  std::string name;   // stable id shared with compare_numpy.py
  std::string shape;  // human-readable sizes
  double work;        // bytes moved (memory-bound ops) or FLOPs (matmul/conv)
  bool flops;
  std::function<array()> build;
};

// Median of repeated eval() calls, each on a freshly built graph, over at
// least `min_seconds` and `min_iters` runs (first run discarded as warm-up).
double median_ms(const std::function<array()>& build, double min_seconds, int min_iters) {
  using clock = std::chrono::steady_clock;
  build().eval();
  std::vector<double> times;
  auto start = clock::now();
  while (static_cast<int>(times.size()) < min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    auto t0 = clock::now();
    array out = build();
    out.eval();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (times.size() > 2000) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

array evaluated(array a) {
  a.eval();
  return a;
}

std::vector<Case> make_cases() {
  array key = random::key(42);
  auto k = [&](int i) { return random::fold_in(key, i); };
  std::vector<Case> cases;
  const double f4 = 4.0;

  array v1 = evaluated(random::normal(k(1), {1 << 20}));
  array v2 = evaluated(random::normal(k(2), {1 << 20}));
  array m1 = evaluated(random::normal(k(3), {1024, 1024}));
  array row = evaluated(random::normal(k(4), {1024}));
  array big = evaluated(random::normal(k(5), {1 << 22}));
  cases.push_back({"add", "1M + 1M", 3 * f4 * (1 << 20), false, [=] { return v1 + v2; }});
  cases.push_back(
      {"add_bcast", "(1024,1024) + (1024)", 2 * f4 * (1 << 20), false, [=] { return m1 + row; }});
  cases.push_back({"mul_scalar", "1M * 2", 2 * f4 * (1 << 20), false, [=] { return v1 * 2.0f; }});
  cases.push_back({"exp", "exp 1M", 2 * f4 * (1 << 20), false, [=] { return exp(v1); }});
  cases.push_back({"tanh", "tanh 1M", 2 * f4 * (1 << 20), false, [=] { return tanh(v1); }});
  cases.push_back({"add_transposed", "(1024,1024)^T + (1024,1024)", 3 * f4 * (1 << 20), false,
                   [=] { return transpose(m1) + m1; }});
  cases.push_back({"sum_all", "sum 4M", f4 * (1 << 22), false, [=] { return sum(big); }});
  cases.push_back(
      {"sum_rows", "sum (1024,1024) axis -1", f4 * (1 << 20), false, [=] { return sum(m1, {1}); }});
  cases.push_back(
      {"sum_cols", "sum (1024,1024) axis 0", f4 * (1 << 20), false, [=] { return sum(m1, {0}); }});
  cases.push_back(
      {"max_rows", "max (1024,1024) axis -1", f4 * (1 << 20), false, [=] { return max(m1, {1}); }});
  // Counter-based random numbers (Threefry-2x32-20); numpy's peer draws from
  // its default generator (PCG64), a cheaper one.
  const array k6 = k(6), k7 = k(7);
  cases.push_back({"uniform", "uniform 1M float32", f4 * (1 << 20), false,
                   [=] { return random::uniform(k6, {1 << 20}); }});
  cases.push_back({"dropout", "dropout p=0.1 1M", 2 * f4 * (1 << 20), false,
                   [=] { return dropout(v1, 0.1, k7); }});
  // One AdamW step on the small detector's 3,041,354 parameters as one
  // tensor: fused on evaluated parameters; through two reshapes (views, no
  // copy) they are unevaluated and the update runs as its elementwise ops.
  {
    const int64_t n = 3041354;
    const optim::AdamW opt({.lr = optim::constant(1e-3), .weight_decay = 1e-4});
    const Tree params{{"w", evaluated(random::normal(k(8), {n}))}};
    const Tree grads{{"w", evaluated(random::normal(k(9), {n}))}};
    Tree state = opt.init(params);
    state = opt.update(params, grads, state).second;  // non-zero moments
    for (auto& x : state.leaves()) x.eval();
    cases.push_back({"adamw_3M", "AdamW step, 3.04M params (fused)", 7 * f4 * n, false,
                     [=] { return opt.update(params, grads, state).first.at("w"); }});
    cases.push_back({"adamw_3M_ops", "same as elementwise ops", 7 * f4 * n, false, [=] {
                       // A fresh view each call: once evaluated it would fuse.
                       const Tree lazy{{"w", reshape(reshape(params.at("w"), {n, 1}), {n})}};
                       return opt.update(lazy, grads, state).first.at("w");
                     }});
  }
  cases.push_back({"softmax_rows", "softmax (1024,1024) axis -1", 2 * f4 * (1 << 20), false,
                   [=] { return softmax(m1, -1); }});
  for (int n : {256, 512, 1024}) {
    array a = evaluated(random::normal(k(10 + n), {n, n}));
    array b = evaluated(random::normal(k(20 + n), {n, n}));
    cases.push_back({fmt::format("matmul_{}", n), fmt::format("({0},{0}) @ ({0},{0})", n),
                     2.0 * n * n * n, true, [=] { return matmul(a, b); }});
  }
  struct ConvCfg {
    const char* name;
    Shape x, w;
    int64_t stride, pad;
  };
  for (auto c : {ConvCfg{"conv_3x3_c64", {4, 64, 56, 56}, {64, 64, 3, 3}, 1, 1},
                 ConvCfg{"conv_7x7_s2_stem", {2, 3, 224, 224}, {64, 3, 7, 7}, 2, 3},
                 ConvCfg{"conv_1x1_c256", {4, 256, 28, 28}, {64, 256, 1, 1}, 1, 0}}) {
    array x = evaluated(random::normal(k(100), c.x));
    array w = evaluated(random::normal(k(101), c.w));
    int64_t ho = (c.x[2] + 2 * c.pad - c.w[2]) / c.stride + 1;
    int64_t wo = (c.x[3] + 2 * c.pad - c.w[3]) / c.stride + 1;
    double flops = 2.0 * c.x[0] * c.w[0] * ho * wo * c.w[1] * c.w[2] * c.w[3];
    cases.push_back(
        {c.name, fmt::format("x{} w{} s{} p{}", shape_str(c.x), shape_str(c.w), c.stride, c.pad),
         flops, true, [=] {
           return conv2d(x, w, {c.stride, c.stride}, {c.pad, c.pad});
         }});
    // The weight gradient, and the same as a convolution of the input with
    // the cotangent as its kernel (batch and channels swapped, stride and
    // dilation exchanged): the formulation it replaced, as the baseline.
    array ct = evaluated(random::normal(k(102), {c.x[0], c.w[0], ho, wo}));
    const Pair s{c.stride, c.stride}, p{c.pad, c.pad}, kernel{c.w[2], c.w[3]};
    cases.push_back({fmt::format("{}_wgrad", c.name), "weight gradient (im2col^T gemm)", flops,
                     true, [=] { return conv2d_weight_grad(x, ct, kernel, s, p); }});
    cases.push_back({fmt::format("{}_wgrad_as_conv", c.name), "same as a convolution", flops, true,
                     [=] {
                       array dw = conv2d(transpose(x, {1, 0, 2, 3}), transpose(ct, {1, 0, 2, 3}),
                                         {1, 1}, p, s);
                       dw = slice(dw, {0, 0, 0, 0}, {c.w[1], c.w[0], c.w[2], c.w[3]});
                       return transpose(dw, {1, 0, 2, 3});
                     }});
    // The input gradient, and the same as a convolution of the zero-inserted,
    // padded cotangent with the flipped, channel-swapped weights.
    cases.push_back({fmt::format("{}_dgrad", c.name), "input gradient (col2im if strided)", flops,
                     true, [=] { return conv2d_input_grad(ct, w, {c.x[2], c.x[3]}, s, p); }});
    cases.push_back(
        {fmt::format("{}_dgrad_as_conv", c.name), "same as a convolution", flops, true, [=] {
           const int64_t n = c.x[0], o = c.w[0], st = c.stride;
           array z = reshape(ct, {n, o, ho, 1, wo, 1});
           z = pad(z, {{0, 0}, {0, 0}, {0, 0}, {0, st - 1}, {0, 0}, {0, st - 1}});
           z = reshape(z, {n, o, ho * st, wo * st});
           z = slice(z, {0, 0, 0, 0}, {n, o, (ho - 1) * st + 1, (wo - 1) * st + 1});
           const int64_t top = c.w[2] - 1 - c.pad, left = c.w[3] - 1 - c.pad;
           const int64_t bottom = top + c.x[2] + 2 * c.pad - c.w[2] - st * (ho - 1);
           const int64_t right = left + c.x[3] + 2 * c.pad - c.w[3] - st * (wo - 1);
           z = pad(z, {{0, 0}, {0, 0}, {top, bottom}, {left, right}});
           return conv2d(z, flip(transpose(w, {1, 0, 2, 3}), {2, 3}));
         }});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  double min_seconds = 0.3;
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
  fmt::print("{:<28} {:<44} {:>10} {:>14}\n", "op", "shape", "median ms", "throughput");
  std::string json = "[\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& c = cases[i];
    double ms = median_ms(c.build, min_seconds, 5);
    double rate = c.work / (ms * 1e-3) / 1e9;
    fmt::print("{:<28} {:<44} {:>10.3f} {:>9.2f} {}\n", c.name, c.shape, ms, rate,
               c.flops ? "GF/s" : "GB/s");
    json += fmt::format(
        "  {{\"name\": \"{}\", \"shape\": \"{}\", \"ms\": {:.6f}, \"{}\": {:.4f}}}{}\n", c.name,
        c.shape, ms, c.flops ? "gflops" : "gbps", rate, i + 1 < cases.size() ? "," : "");
  }
  json += "]\n";
  if (!json_path.empty()) {
    if (!bench::write_text(json_path, json)) return 1;
  }
  return 0;
}
