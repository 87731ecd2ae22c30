// Block fusion: kernels over the same batch elements stitched into one
// kernel per element (compiler/kernel_stitch.h, compiler/jit/block_fusion.h).
// Results equal eager and the unstitched plan; kernel counts come from the
// JSON report; values read across batch elements or through a library call
// keep their kernels apart.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "compiler/codegen.h"
#include "compiler/kernel_builder.h"
#include "compiler/kernel_stitch.h"
#include "grad_check.h"
#include "jit_report.h"
#include "kernel_samples.h"
#include "mfx/jit.h"
#include "mfx/linalg.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::fused_kernels;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

// Jitted with and without block fusion; both must equal eager.
std::pair<JitFunction, JitFunction> check_both(const ArrayFn& f, const std::vector<array>& args,
                                               const std::string& name, double tol = 1e-5) {
  auto want = f(args);
  JitFunction blocked = jit(f, {.name = name});
  JitFunction plain = jit(f, {.name = name + "_plain", .block_fusion = false});
  auto got = blocked(args);
  auto got_plain = plain(args);
  INFO(blocked.report_json());
  for (size_t k = 0; k < want.size(); ++k) {
    check_close(got[k], values(want[k]), want[k].shape(), tol, tol);
    check_close(got_plain[k], values(want[k]), want[k].shape(), tol, tol);
  }
  return {std::move(blocked), std::move(plain)};
}

// The sparse-correspondence pattern: row max, column max of the filtered
// matrix, row sums of the result; per image [M, N].
std::vector<array> scg(const std::vector<array>& a) {
  array s = softmax(a[0], -1);
  array r = where(s >= 0.5 * max(s, -1, true), s, zeros({}, s.dtype()));
  array c = where(r >= 0.5 * max(r, -2, true), r, zeros({}, s.dtype()));
  array n = c / (sum(c, -1, true) + 1e-6);
  return {n, sum(n * a[0])};
}

}  // namespace

TEST_CASE("regrid and stitch keep a kernel's results", "[jit][block]") {
  using namespace mfx::compiler;
  // k1: y[b, i] = x[b, i] - max_j x[b, j] (grid [B, 1] -> [B]); k2: z[b] = sum_i y[b, i]^2.
  const int64_t B = 5, N = 7;
  Kernel k1;
  k1.name = "rowmax";
  k1.args = {{float32, B * N}, {float32, B * N, true}};
  k1.grid = {B, 1};
  k1.locals = {{float32, {}}};
  k1.phases = mfx::test::row_max_phases(0, 1, 0, N);
  Kernel k2;
  k2.name = "rowsq";
  k2.args = {{float32, B * N}, {float32, B, true}};
  k2.grid = {B};
  k2.locals = {{float32, {}}};
  {
    Phase red;
    red.kind = PhaseKind::Reduce;
    red.domain = {N};
    red.reduced_axes = {0};
    PhaseBuilder b(red);
    int at = b.add(b.mul(b.grid_index(0), b.index(N)), b.domain_index(0));
    b.reduce(ReduceOp::Sum, 0, b.unary(UnaryOp::Square, b.load(0, float32, at)));
    Phase map;
    PhaseBuilder m(map);
    m.store(1, m.grid_index(0), m.load_local(0, float32, {}));
    k2.phases = {red, map};
  }
  Kernel r1 = regrid(k1, 1);
  CHECK(r1.grid == std::vector<int64_t>{B});
  CHECK(r1.locals[0].shape == std::vector<int64_t>{1});
  CHECK(r1.phases[0].domain == std::vector<int64_t>{1, N});
  CHECK(r1.phases[0].reduced_axes == std::vector<int>{1});
  // x, y (k1's output, k2's input), z.
  std::vector<KernelArg> args = {{float32, B * N}, {float32, B * N, true}, {float32, B, true}};
  Kernel st = stitch({{&r1, {0, 1}}, {&k2, {1, 2}}}, args, "stitched");
  validate(st);
  CHECK(st.phases.size() == 4);
  CHECK(st.locals.size() == 2);

  std::vector<float> x(B * N), y(B * N, 0), z(B, 0);
  for (int64_t i = 0; i < B * N; ++i) x[i] = static_cast<float>((i * 37) % 11) - 4.5f;
  auto ck = compile_cpu(st, {});
  std::vector<void*> bufs = {x.data(), y.data(), z.data()};
  ck->run(bufs.data(), 0, B);
  for (int64_t b = 0; b < B; ++b) {
    float mx = -1e30f, want = 0;
    for (int64_t i = 0; i < N; ++i) mx = std::max(mx, x[b * N + i]);
    for (int64_t i = 0; i < N; ++i) {
      CHECK(y[b * N + i] == x[b * N + i] - mx);
      want += (x[b * N + i] - mx) * (x[b * N + i] - mx);
    }
    CHECK(z[b] == Approx(want).epsilon(1e-6));
  }
  // Another grid cannot be stitched.
  CHECK_THROWS_AS(stitch({{&k1, {0, 1}}, {&k2, {1, 2}}}, args, "bad"), std::logic_error);
}

TEST_CASE("an image's [M, N] and [N, K] work runs as one kernel per image", "[jit][block]") {
  array a = astype(rand_like({8, 32, 300}, 11) * 4.0, float32);
  array z = astype(rand_like({8, 300, 91}, 12), float32);
  auto f = [](const std::vector<array>& in) {
    std::vector<array> r = scg(in);
    // Column maxima of the [M, N] attention scale the [N, K] logits.
    array col = swapaxes(max(softmax(in[0], -1), -2, true), 1, 2);  // [8, 300, 1]
    array w = sigmoid(in[1]) * col;
    r.push_back(w / sum(w, -1, true));
    r.push_back(sum(w));
    return r;
  };
  auto [blocked, plain] = check_both(f, {a, z}, "two_spaces");
  // One kernel per image, one for the batch sums of its partials.
  CHECK(fused_kernels(blocked) == 2);
  CHECK(blocked.stats().kernels == 2);
  CHECK(fused_kernels(plain) >= 3);
}

TEST_CASE("forward and backward of the per-image subgraph stitch too", "[jit][block]") {
  array x = astype(rand_like({8, 16, 50}, 12), float32);
  array z = astype(rand_like({8, 50, 7}, 13), float32);
  auto f = [](const std::vector<array>& a) {
    auto [outs, grads] = vjp(
        [](const std::vector<array>& p) {
          array s = softmax(p[0], -1);
          array col = swapaxes(max(s, -2, true), 1, 2);  // [8, 50, 1]
          return std::vector<array>{sum(s * s) + sum(square(p[1] * col))};
        },
        a, std::vector<array>{ones({}, float32)});
    return std::vector<array>{outs[0], grads[0], grads[1]};
  };
  auto [blocked, plain] = check_both(f, {x, z}, "grad_two_spaces");
  CHECK(fused_kernels(blocked) < fused_kernels(plain));
  CHECK(fused_kernels(blocked) <= 3);
}

TEST_CASE("values read across batch elements keep kernels apart", "[jit][block]") {
  array x = astype(rand_like({8, 20, 30}, 13), float32);
  // Each image reads the next image's row maxima (a slice along the batch axis).
  auto f = [](const std::vector<array>& a) {
    array m = exp(a[0]) / sum(exp(a[0]), -1, true);
    array shifted =
        concatenate({slice(m, {1, 0, 0}, {8, 20, 30}), slice(m, {0, 0, 0}, {1, 20, 30})}, 0);
    array c = shifted * max(m, -2, true);
    return std::vector<array>{c / sum(c, -1, true)};
  };
  check_both(f, {x}, "cross_batch");
  // Transposing the batch axis away: b of the consumer is not b of the producer.
  auto g = [](const std::vector<array>& a) {
    array m = a[0] - max(a[0], -1, true);                     // [8, 20, 30]
    array t = transpose(reshape(m, {8, 20, 30}), {1, 0, 2});  // [20, 8, 30]
    return std::vector<array>{sum(t * max(t, -1, true), -1)};
  };
  check_both(g, {x}, "transposed_batch");
  // Image b reads image 7 - b of a value another kernel wrote (an indexed
  // load along the batch axis): stitched, it would read before the write.
  auto h = [](const std::vector<array>& a) {
    array m = a[0] - max(a[0], -1, true);
    array r = take(m, array({7, 6, 5, 4, 3, 2, 1, 0}, Shape{8}, int32), 0);
    return std::vector<array>{r / sum(exp(r), -2, true)};
  };
  auto [blocked, plain] = check_both(h, {x}, "reversed_batch");
  CHECK(fused_kernels(blocked) == fused_kernels(plain));
}

TEST_CASE("a library call between two kernels keeps them apart", "[jit][block]") {
  array x = astype(rand_like({8, 16, 24}, 14), float32);
  array w = astype(rand_like({24, 24}, 15), float32);
  auto f = [](const std::vector<array>& a) {
    array s = softmax(a[0], -1);     // kernel 1
    array h = matmul(s, a[1]);       // library
    array r = s * max(h, -2, true);  // kernel 2 reads both
    return std::vector<array>{r / sum(r, -1, true)};
  };
  auto [blocked, plain] = check_both(f, {x, w}, "detour");
  CHECK(blocked.stats().kernels >= 3);
}

TEST_CASE("batch reductions split into per-image partials and a small sum", "[jit][block]") {
  array x = astype(rand_like({16, 40, 33}, 16), float64);
  auto f = [](const std::vector<array>& a) {
    array e = exp(a[0] - max(a[0], -1, true));
    return std::vector<array>{sum(e), max(e * 2.0), sum(e, {0, 2})};
  };
  auto [blocked, plain] = check_both(f, {x}, "split", 1e-12);
  // The per-image partials in one kernel; the two [16, 1, 1] batch sums in
  // another, the [16, 40, 1] one in a third.
  CHECK(fused_kernels(blocked) == 3);
}

TEST_CASE("stitched parts share shared memory on the GPU", "[jit][block]") {
  using namespace mfx::compiler;
  // Two per-row softmax-like kernels over [B, 64, 100], each caching exp(x)
  // in a [64, 100] local (25.6 KB); stitched, the second reuses the first's.
  const int64_t B = 4, R = 64, C = 100;
  auto part = [&](const std::string& name) {
    Kernel k;
    k.name = name;
    k.args = {{float32, B * R * C}, {float32, B * R * C, true}};
    k.grid = {B};
    k.locals = {{float32, {R, C}}, {float32, {R}}};
    Phase cache;
    cache.domain = {R, C};
    PhaseBuilder c(cache);
    int at = c.linear_index({c.grid_index(0), c.domain_index(0), c.domain_index(1)}, {R * C, C, 1});
    c.materialize(0, c.unary(UnaryOp::Exp, c.load(0, float32, at)));
    Phase red;
    red.kind = PhaseKind::Reduce;
    red.domain = {R, C};
    red.reduced_axes = {1};
    PhaseBuilder r(red);
    r.reduce(ReduceOp::Sum, 1, r.load_local(0, float32, {r.domain_index(0), r.domain_index(1)}));
    Phase out;
    out.domain = {R, C};
    PhaseBuilder o(out);
    int at2 =
        o.linear_index({o.grid_index(0), o.domain_index(0), o.domain_index(1)}, {R * C, C, 1});
    o.store(
        1, at2,
        o.binary(BinaryOp::Divide, o.load_local(0, float32, {o.domain_index(0), o.domain_index(1)}),
                 o.load_local(1, float32, {o.domain_index(0)})));
    k.phases = {cache, red, out};
    return k;
  };
  Kernel a = part("first"), b = part("second");
  std::vector<KernelArg> args = {
      {float32, B * R * C}, {float32, B * R * C, true}, {float32, B * R * C, true}};
  Kernel st = stitch({{&a, {0, 1}}, {&b, {1, 2}}}, args, "shared");
  CHECK(st.locals[2].region == 1);
  PtxKernel one = compile_ptx(a, Target::Sm90, {});
  PtxKernel both = compile_ptx(st, Target::Sm90, {});
  CHECK(both.shared_bytes == one.shared_bytes);
  CHECK(both.shared_bytes < 2 * R * C * 4);
  CHECK_NOTHROW(run_ptxas(both.ptx, Target::Sm90));

  // Independent parts side by side: lanes 0 and 1 of a [2, B] grid, twice
  // the blocks, each running its own part.
  std::vector<KernelArg> io = {{float32, B * R * C},
                               {float32, B * R * C},
                               {float32, B * R * C, true},
                               {float32, B * R * C, true}};
  Kernel lanes = stitch({{&a, {0, 2}}, {&b, {1, 3}}}, io, "lanes", {0, 1});
  validate(lanes);
  CHECK(lanes.grid == std::vector<int64_t>{2, B});
  CHECK(lanes.phases.front().lane == 0);
  CHECK(lanes.phases.back().lane == 1);
  PtxKernel side = compile_ptx(lanes, Target::Sm90, {});
  CHECK(side.grid_blocks == 2 * B);
  CHECK_NOTHROW(run_ptxas(side.ptx, Target::Sm90));
  std::vector<float> x1(B * R * C), x2(B * R * C), y1(B * R * C, -1), y2(B * R * C, -1);
  for (int64_t i = 0; i < B * R * C; ++i) {
    x1[i] = static_cast<float>((i * 13) % 17) * 0.1f;
    x2[i] = static_cast<float>((i * 7) % 11) * -0.2f;
  }
  auto ck = compile_cpu(lanes, {});
  std::vector<void*> bufs = {x1.data(), x2.data(), y1.data(), y2.data()};
  // Lane 0's grid points run the first part only.
  ck->run(bufs.data(), 0, B);
  CHECK(std::count(y2.begin(), y2.end(), -1.0f) == B * R * C);
  CHECK(std::count(y1.begin(), y1.end(), -1.0f) == 0);
  ck->run(bufs.data(), B, 2 * B);
  for (auto [x, y] : {std::pair{&x1, &y1}, std::pair{&x2, &y2}}) {
    for (int64_t r = 0; r < B * R; ++r) {
      double total = 0;
      for (int64_t c = 0; c < C; ++c) total += std::exp((*x)[r * C + c]);
      for (int64_t c = 0; c < C; ++c) {
        CHECK((*y)[r * C + c] == Approx(std::exp((*x)[r * C + c]) / total).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("a GPU plan runs small scatter-adds and matmuls as fused reductions", "[jit][block]") {
  array logits = astype(rand_like({4, 50, 7}, 31), float32);
  array labels = array({0, 6, 2, 2, 5, 1, 3, 3, 0, 4, 6, 1, 2, 2, 2, 5, 0, 1, 6, 6, 4, 4, 3, 0},
                       Shape{4, 6}, int32);
  array w = astype(rand_like({4, 6, 7}, 32), float32);
  auto f = [](const std::vector<array>& a) {
    auto [outs, grads] = vjp(
        [&](const std::vector<array>& p) {
          array z = take_along_axis(p[0], expand_dims(a[1], 1), 2);  // [4, 50, 6]
          array y = matmul(sigmoid(z), a[2]);                        // contraction 6
          return std::vector<array>{sum(square(y)) + sum(z * z)};
        },
        {a[0]}, std::vector<array>{ones({}, float32)});
    return std::vector<array>{outs[0], grads[0]};
  };
  auto want = f({logits, labels, w});
  JitFunction gpu = jit(f, {.name = "gpu_plan", .plan_for_gpu = true});
  JitFunction cpu = jit(f, {.name = "cpu_plan"});
  auto got = gpu({logits, labels, w});
  auto got_cpu = cpu({logits, labels, w});
  for (size_t k = 0; k < want.size(); ++k) {
    check_close(got[k], values(want[k]), want[k].shape(), 1e-5, 1e-5);
    check_close(got_cpu[k], values(want[k]), want[k].shape(), 1e-5, 1e-5);
  }
  auto names = [](const JitFunction& jf) {
    std::vector<std::string> n;
    const auto j = nlohmann::json::parse(jf.report_json());
    for (auto& k : j["kernels"]) {
      if (k["kind"] != "view") n.push_back(k["name"]);
    }
    return n;
  };
  INFO(gpu.report_json());
  for (const auto& n : names(gpu)) {
    CHECK(n != "Matmul");
    CHECK(n != "ScatterAdd");
  }
  // The CPU plan keeps the library calls (BLAS and the scatter are cheaper there).
  auto cpu_names = names(cpu);
  CHECK(std::count(cpu_names.begin(), cpu_names.end(), "Matmul") >= 1);
  CHECK(std::count(cpu_names.begin(), cpu_names.end(), "ScatterAdd") == 1);
  // Out-of-range labels still raise an error, not a silent drop.
  array bad =
      where(equal(reshape(arange(24, int32), {4, 6}), array(5, int32)), array(7, int32), labels);
  mfx::test::check_throws_with([&] { eval(gpu({logits, bad, w})); }, {"index 7", "size 7"});
}
