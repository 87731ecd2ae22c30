// Fusion: kernel counts read from the JSON report, and fused results equal
// eager ones (exact and fast numerics).
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "grad_check.h"
#include "jit_report.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::fused_kernels;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

// Runs f eagerly and jitted (exact and fast); returns the exact jit function.
JitFunction check_against_eager(const ArrayFn& f, const std::vector<array>& args,
                                const std::string& name, double fast_tol = 1e-4) {
  auto want = f(args);
  JitFunction exact = jit(f, {.name = name});
  JitFunction fast = jit(f, {.name = name + "_fast", .fast_math = true});
  auto got = exact(args);
  auto got_fast = fast(args);
  INFO(exact.report_json());
  for (size_t k = 0; k < want.size(); ++k) {
    CHECK(got[k].dtype() == want[k].dtype());
    double tol = want[k].dtype() == float64 ? 1e-12 : 1e-5;
    check_close(got[k], values(want[k]), want[k].shape(), tol, tol);
    check_close(got_fast[k], values(want[k]), want[k].shape(), fast_tol, fast_tol);
  }
  return exact;
}

}  // namespace

TEST_CASE("row softmax is one kernel", "[jit][fusion]") {
  array x = astype(rand_like({64, 300}, 1) * 5.0, float32);
  auto jf = check_against_eager(
      [](const std::vector<array>& a) { return std::vector<array>{softmax(a[0], -1)}; }, {x},
      "softmax");
  INFO(jf.report_json());
  CHECK(jf.stats().kernels == 1);
  CHECK(fused_kernels(jf) == 1);
}

TEST_CASE("softmax forward and backward in at most two kernels", "[jit][fusion]") {
  array x = rand_like({16, 40}, 2), ct = rand_like({16, 40}, 3);
  auto f = [](const std::vector<array>& a) {
    auto [outs, cts] =
        vjp([](const std::vector<array>& p) { return std::vector<array>{softmax(p[0], -1)}; },
            {a[0]}, std::vector<array>{a[1]});
    return std::vector<array>{outs[0], cts[0]};
  };
  auto jf = check_against_eager(f, {x, ct}, "softmax_fwd_bwd");
  INFO(jf.report_json());
  CHECK(jf.stats().kernels <= 2);
}

TEST_CASE("layer_norm forward is one kernel", "[jit][fusion]") {
  array x = rand_like({32, 64}, 4), w = rand_like({64}, 5), b = rand_like({64}, 6);
  auto jf = check_against_eager(
      [](const std::vector<array>& a) { return std::vector<array>{layer_norm(a[0], a[1], a[2])}; },
      {x, w, b}, "layer_norm");
  INFO(jf.report_json());
  CHECK(jf.stats().kernels == 1);
}

TEST_CASE(
    "cost matrix + softmax + row/column max + threshold + normalise + weighted sum is one kernel",
    "[jit][fusion]") {
  // The shape of the match-free loss without its matmuls: per image b, a
  // cost C[m, n] from GT and query features, a softmax over queries, a row
  // filter (>= rho * row max), a column threshold, row normalisation and a
  // weighted sum of the cost.
  const int B = 4, M = 8, N = 30;
  array gt = rand_like({B, M, 1}, 7), q = rand_like({B, 1, N}, 8), logits = rand_like({B, M, N}, 9);
  auto f = [](const std::vector<array>& a) {
    array cost = abs(a[0] - a[1]) * 5.0 + square(a[0] * a[1]);
    array attn = softmax(a[2], -1);
    array rowmax = max(attn, 2, true);
    array r = where(attn >= rowmax * 0.5, attn, zeros_like(attn));
    array colmax = max(r, 1, true);
    array s = where(logical_and(r > 0.0, r >= colmax * 0.5), r, zeros_like(r));
    array norm = s / (sum(s, 2, true) + 1e-6);
    return std::vector<array>{sum(norm * cost, std::vector<int>{1, 2}, true)};
  };
  auto jf = check_against_eager(f, {gt, q, logits}, "matchfree_like");
  INFO(jf.report_json());
  CHECK(jf.stats().kernels == 1);
}

TEST_CASE("fusion across broadcasts, transposes, slices and reshapes of inputs", "[jit][fusion]") {
  array x = rand_like({6, 8}, 10), y = rand_like({8, 6}, 11), z = rand_like({48}, 12);
  auto f = [](const std::vector<array>& a) {
    array t = transpose(a[1]);
    array r = reshape(a[2], {6, 8});
    array s = slice(a[0], {0, 7}, {6, -9}, {1, -1});  // columns reversed
    return std::vector<array>{tanh(t * r + s) - mean(r, 1, true), sum(exp(s), 0)};
  };
  auto jf = check_against_eager(f, {x, y, z}, "views");
  INFO(jf.report_json());
  CHECK(fused_kernels(jf) >= 1);
}

TEST_CASE("fusion handles integer, bool and half dtypes and falls back cleanly", "[jit][fusion]") {
  array xi = array({3, -1, 4, 1, -5, 9}, {2, 3}, int32);
  array xh = astype(rand_like({2, 3}, 13), float16);
  auto f = [](const std::vector<array>& a) {
    return std::vector<array>{sum(a[0] * 2 + 1, 1), any(a[0] > 3, 1), astype(a[1], float32) * 2.0f,
                              max(a[1], 0)};
  };
  check_against_eager(f, {xi, xh}, "dtypes", 1e-3);
}

TEST_CASE("matmul stays a library call between fused kernels", "[jit][fusion]") {
  array x = rand_like({8, 16}, 14), w = rand_like({16, 4}, 15), b = rand_like({4}, 16);
  auto f = [](const std::vector<array>& a) {
    return std::vector<array>{softmax(tanh(matmul(a[0] * 2.0, a[1]) + a[2]), -1)};
  };
  auto jf = check_against_eager(f, {x, w, b}, "mlp");
  auto j = nlohmann::json::parse(jf.report_json());
  INFO(j.dump(2));
  CHECK(jf.stats().kernels == 3);  // prologue kernel, Matmul, epilogue + softmax kernel
  bool matmul_opaque = false;
  for (auto& k : j["kernels"]) matmul_opaque |= k["name"] == "Matmul" && k["reason"] == "OPAQUE_OP";
  CHECK(matmul_opaque);
}

TEST_CASE("the fusion report on disk; every fused kernel assembles for sm_80 and sm_90",
          "[jit][fusion][report]") {
  namespace fs = std::filesystem;
  const int B = 4, M = 8, N = 30;
  array gt = astype(rand_like({B, M, 1}, 17), float32);
  array q = astype(rand_like({B, 1, N}, 18), float32);
  auto f = [](const std::vector<array>& a) {
    array c = abs(a[0] - a[1]);
    array attn = softmax(c * 3.0f, -1);
    return std::vector<array>{sum(attn * c, std::vector<int>{1, 2}, false),
                              layer_norm(c, std::nullopt, std::nullopt)};
  };
  auto jf = jit(f, {.name = "report_demo"});
  jf({gt, q});
  fs::path dir = fs::temp_directory_path() / fmt::format("mfx_report_{}", ::getpid());
  jf.write_report(dir.string(), true);
  for (auto name : {"report.json", "summary.txt", "graph.dot", "graph.html"}) {
    INFO(name);
    CHECK(fs::file_size(dir / name) > 0);
  }
  std::ifstream in(dir / "report.json");
  auto j = nlohmann::json::parse(in);
  int fused = 0;
  for (auto& k : j["kernels"]) {
    if (k["kind"] != "fused") continue;
    ++fused;
    for (auto arch : {"sm_80", "sm_90"}) {
      INFO(k["name"] << " " << arch << ": " << k["ptx"][arch].dump());
      CHECK(k["ptx"][arch]["ok"] == true);
      CHECK(k["ptx"][arch]["registers"].get<int>() > 0);
    }
    CHECK(fs::exists(dir / "kernels" / (k["name"].get<std::string>() + ".mlir")));
  }
  CHECK(fused >= 1);
  CHECK(j["modelled_bytes_per_call"].get<int64_t>() > 0);
  std::ifstream dot(dir / "graph.dot");
  std::string text((std::istreambuf_iterator<char>(dot)), std::istreambuf_iterator<char>());
  CHECK(text.find("subgraph cluster_") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("gathers fuse as indexed loads; out-of-range indices still throw", "[jit][fusion]") {
  array table = rand_like({10, 6}, 19);
  array idx = array({3, -1, 0, 9, 3}, {5}, int32);
  array cls = array({0, 5, 2, 2, 1, 4, 3, 0, 5, 1}, {10, 1}, int64);
  auto f = [](const std::vector<array>& a) {
    array rows = take(a[0], a[1], 0);               // [5, 6]
    array picked = take_along_axis(a[0], a[2], 1);  // [10, 1]
    return std::vector<array>{softmax(rows * 2.0, -1), sum(picked * a[0], 1)};
  };
  auto jf = check_against_eager(f, {table, idx, cls}, "gathers");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  for (auto& k : j["kernels"]) {
    CHECK(k["name"] != "Gather");
    CHECK(k["name"] != "GatherAxis");
  }
  CHECK(jf.stats().kernels == 2);
  array bad = array({3, 10, 0, 1, 2}, {5}, int32);
  mfx::test::check_throws_with(
      [&] {
        eval(jf({table, bad, cls}));
      },
      {"[take]", "index 10", "size 10"});
}

TEST_CASE("gathers through views of computed indices fuse and stay range-checked",
          "[jit][fusion]") {
  array logits = rand_like({2, 6, 5}, 30);
  array labels = array({1, 4, 0, 2, 3, 3}, {2, 3}, int32);
  array keep = array({1, 1, 0, 1, 0, 1}, {2, 3}, bool_);
  auto f = [](const std::vector<array>& a) {
    // The criteria's pattern: sanitised labels, expanded to index every query.
    array lab = where(a[2], a[1], zeros({}, int32));
    array z = take_along_axis(a[0], expand_dims(lab, 1), 2);  // [2, 6, 3]
    return std::vector<array>{sigmoid(z) * 2.0};
  };
  auto jf = check_against_eager(f, {logits, labels, keep}, "gather_view");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  for (auto& k : j["kernels"]) CHECK(k["name"] != "GatherAxis");
  array bad = array({1, 4, 0, 2, 5, 3}, {2, 3}, int32);
  array all = array({1, 1, 1, 1, 1, 1}, {2, 3}, bool_);
  mfx::test::check_throws_with([&] { eval(jf({logits, bad, all})); }, {"[take]", "index 5"});
}

TEST_CASE("constant padding fuses as a bounds test", "[jit][fusion]") {
  array x = rand_like({3, 4}, 23), e = rand_like({2, 0}, 24);
  auto f = [](const std::vector<array>& a) {
    array p = pad(a[0] * 2.0, {{1, 2}, {0, 3}}, array(-1.5));
    array q = pad(a[1], {{0, 1}, {2, 0}}, array(7.0));  // empty source: only the fill
    return std::vector<array>{exp(p) + 1.0, q + 1.0};
  };
  auto jf = check_against_eager(f, {x, e}, "pads");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  for (auto& k : j["kernels"]) CHECK(k["name"] != "Pad");
}

TEST_CASE("concatenation fuses as a select between shifted loads", "[jit][fusion]") {
  array x = rand_like({4, 5, 3}, 26), y = rand_like({4, 2, 3}, 27), e = rand_like({4, 0, 3}, 28);
  array w = rand_like({3, 7}, 29);
  auto f = [](const std::vector<array>& a) {
    // Computed and input operands, an empty one, along a middle axis; the
    // result feeds a kernel (fused) and a matmul (stored by its kernel).
    array c = concatenate({exp(a[0]), a[2], a[1] * 2.0, a[0]}, 1);  // [4, 12, 3]
    array d = concatenate({a[1], sigmoid(a[1])}, 2);                // [4, 2, 6]
    return std::vector<array>{softmax(c, -1), matmul(c, a[3]), sum(d, -1)};
  };
  auto jf = check_against_eager(f, {x, y, e, w}, "concats");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  for (auto& k : j["kernels"]) CHECK(k["name"] != "Concatenate");
  // Beyond kMaxFusedConcatInputs operands it stays the library copy.
  auto g = [](const std::vector<array>& a) {
    std::vector<array> parts(9, a[0]);
    return std::vector<array>{exp(concatenate(parts, 0))};
  };
  auto jg = check_against_eager(g, {x}, "wide_concat");
  auto jj = nlohmann::json::parse(jg.report_json());
  int library = 0;
  for (auto& k : jj["kernels"]) library += k["name"] == "Concatenate";
  CHECK(library == 1);
}

TEST_CASE("broadcast scalar constants reach kernels as one element", "[jit][fusion]") {
  // zeros_like, ones_like and scalar operands are constants of the full
  // shape with one stored element; a kernel must read that element, not a
  // materialised [64, 300] copy made on every call.
  array x = rand_like({64, 300}, 25);
  auto f = [](const std::vector<array>& a) {
    array relu_like = where(a[0] > 0.0, a[0], zeros_like(a[0]));
    return std::vector<array>{relu_like * ones_like(a[0]) + 0.5};
  };
  auto jf = check_against_eager(f, {x}, "broadcast_constants");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  int fused = 0;
  for (auto& k : j["kernels"]) {
    if (k["kind"] != "fused") continue;
    ++fused;
    int full_inputs = 0;
    for (auto& in : k["inputs"]) full_inputs += in["shape"] == nlohmann::json({64, 300});
    CHECK(full_inputs == 1);  // x only
  }
  CHECK(fused == 1);
}

TEST_CASE("work does not join a kernel that a full reduction made serial", "[jit][fusion]") {
  // sum(a * b) folds every axis (one grid point, one thread); exp(a) * 2 has
  // the same iteration space but must get its own parallel kernel.
  array a = rand_like({64, 300}, 26), b = rand_like({64, 300}, 27);
  auto f = [](const std::vector<array>& in) {
    return std::vector<array>{sum(in[0] * in[1]), exp(in[0]) * 2.0};
  };
  auto jf = check_against_eager(f, {a, b}, "serial_reduction");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  bool exp_seen = false;
  for (auto& k : j["kernels"]) {
    if (k["kind"] != "fused") continue;
    bool has_exp = false;
    for (auto& op : k["source_ops"]) has_exp = has_exp || op == "Exp";
    if (!has_exp) continue;
    exp_seen = true;
    int64_t points = 1;
    for (auto& d : k["grid"]) points *= d.get<int64_t>();
    CHECK(points >= 64);
  }
  CHECK(exp_seen);
}

TEST_CASE("a long column reduction runs as the library reduction", "[jit][fusion]") {
  // A bias-gradient-like sum over 2048 rows keeping the last axis: fused,
  // every grid point would stride through memory; the map part still fuses.
  array x = rand_like({2048, 64}, 28), y = rand_like({2048, 64}, 29);
  auto f = [](const std::vector<array>& a) {
    array g = where(a[0] > 0.0, a[1], zeros_like(a[1])) * 3.0;
    return std::vector<array>{sum(g, 0), g};
  };
  auto jf = check_against_eager(f, {x, y}, "column_sum");
  INFO(jf.report_json());
  auto j = nlohmann::json::parse(jf.report_json());
  bool library_sum = false;
  int fused = 0;
  for (auto& k : j["kernels"]) {
    library_sum |= k["name"] == "Sum" && k["reason"] == "LIBRARY_REDUCTION";
    fused += k["kind"] == "fused";
  }
  CHECK(library_sum);
  CHECK(fused == 1);
  // From 256 rows on (here the 800 = B x N rows of a small match-free step).
  array r = rand_like({800, 256}, 31);
  auto mid = check_against_eager(
      [](const std::vector<array>& a) { return std::vector<array>{sum(a[0] * a[0], 0)}; }, {r},
      "mid_column_sum");
  INFO(mid.report_json());
  const auto mid_report = nlohmann::json::parse(mid.report_json());
  bool mid_library = false;
  for (auto& k : mid_report["kernels"]) {
    mid_library |= k["name"] == "Sum" && k["reason"] == "LIBRARY_REDUCTION";
  }
  CHECK(mid_library);
  // Short column reductions (here 40 rows) stay fused.
  array s = rand_like({40, 300}, 30);
  auto short_sum = check_against_eager(
      [](const std::vector<array>& a) { return std::vector<array>{sum(exp(a[0]), 0)}; }, {s},
      "short_column_sum");
  CHECK(short_sum.stats().kernels == 1);
}

TEST_CASE("exact jit computes float32 exp/log/log1p/tanh/sigmoid like eager", "[jit][fusion]") {
  // The same branch-free polynomials as the eager kernels (lib/cpu/
  // fast_math.h), so results agree to rounding of fused multiply-adds, and
  // special values (inf, NaN, 0, subnormals, huge) behave the same.
  std::vector<float> v;
  for (int i = -2000; i <= 2000; ++i) v.push_back(static_cast<float>(i) * 0.0625f);
  for (float s : {0.f, -0.f, 1e-40f, -1e-40f, 1e-30f, 88.7f, 89.f, -104.f, -105.f, 1e30f, -1e30f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), -0.9999999f, -1.f, -1.5f}) {
    v.push_back(s);
  }
  array x(v, Shape{static_cast<int64_t>(v.size())}, float32);
  auto f = [](const std::vector<array>& a) {
    return std::vector<array>{exp(a[0]), log(a[0]), log1p(a[0]), tanh(a[0]), sigmoid(a[0])};
  };
  auto want = f({x});
  auto got = jit(f, {.name = "poly"})({x});
  for (size_t k = 0; k < want.size(); ++k) {
    INFO("function " << k);
    auto w = want[k].to_vector<float>(), g = got[k].to_vector<float>();
    for (size_t i = 0; i < w.size(); ++i) {
      INFO("x = " << v[i] << ": eager " << w[i] << " jit " << g[i]);
      if (std::isnan(w[i])) {
        CHECK(std::isnan(g[i]));
      } else {
        CHECK(g[i] == Approx(w[i]).epsilon(4e-7).margin(1e-38));
      }
    }
  }
}
