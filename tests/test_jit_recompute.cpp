// Recomputing cheap values in the kernels that read them (CPU plans): a value
// a kernel would store only for a later kernel, when it is a few elementwise
// operations on values in memory, is computed by the reader instead.
#include <nlohmann/json.hpp>

#include "grad_check.h"
#include "jit_report.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

// Values stored by one kernel for another, and the fused kernels' output shapes.
int stored_for_other_kernels(const JitFunction& f) {
  const auto j = nlohmann::json::parse(f.report_json());
  int n = 0;
  for (auto& m : j["materialized"]) n += m["reason"] == "OTHER_KERNEL_CONSUMER";
  return n;
}

// a = g(x) feeds a row sum, the row sums a matmul, and the matmul's result
// multiplies a again: the reader of `a` sits behind a library call, so it
// cannot join a's kernel.
std::vector<array> behind_a_matmul(const std::vector<array>& in, array (*g)(const array&)) {
  array a = g(in[0]);
  array s = sum(a, {1}, true);  // (64, 1)
  array h = matmul(s, in[1]);   // (64, 32)
  return {sum(a * h, {1})};
}

// f jitted (recompute on), after checking its results against eager ones.
JitFunction jit_equal_to_eager(const ArrayFn& f, const std::vector<array>& args,
                               const std::string& name) {
  const auto want = f(args);
  JitFunction jf = jit(f, {.name = name});
  const auto got = jf(args);
  INFO(jf.report_json());
  for (size_t k = 0; k < want.size(); ++k) {
    check_close(got[k], values(want[k]), want[k].shape(), 1e-12, 1e-12);
  }
  return jf;
}

array cheap(const array& x) { return exp(x) * 2.0 - 1.0; }
array costly(const array& x) { return tanh(tanh(tanh(tanh(tanh(x))))); }  // 5 x 8 > 32

}  // namespace

TEST_CASE("a cheap value stored for a later kernel is recomputed there", "[jit][recompute]") {
  array x = rand_like({64, 32}, 1), w = rand_like({1, 32}, 2);
  auto f = [](const std::vector<array>& in) { return behind_a_matmul(in, cheap); };
  JitFunction jf = jit_equal_to_eager(f, {x, w}, "recompute_cheap");
  INFO(jf.report_json());
  CHECK(stored_for_other_kernels(jf) == 0);
  CHECK(mfx::test::fused_kernels(jf) == 2);
  // The report names the value the reader recomputes: exp(x) * 2 - 1, [64, 32].
  const auto report = nlohmann::json::parse(jf.report_json());
  REQUIRE(report["recomputed"].size() == 1);
  CHECK(report["recomputed"][0]["shape"] == nlohmann::json::array({64, 32}));
  // Its gradient: the backward reads exp(x) again behind the matmul's.
  const array ct = rand_like({64}, 7);
  auto pullback = [f, ct](const std::vector<array>& in) { return vjp(f, in, {ct}).second; };
  const auto g_eager = pullback({x, w});
  JitFunction jg = jit(pullback, {.name = "recompute_cheap_grad"});
  const auto g_jit = jg({x, w});
  INFO(jg.report_json());
  for (size_t k = 0; k < g_eager.size(); ++k) {
    check_close(g_jit[k], values(g_eager[k]), g_eager[k].shape(), 1e-11, 1e-11);
  }
  JitFunction jg_stored = jit(pullback, {.name = "stored_grad", .recompute = false});
  jg_stored({x, w});
  CHECK(stored_for_other_kernels(jg) < stored_for_other_kernels(jg_stored));
}

TEST_CASE("a costly value is stored once, not recomputed", "[jit][recompute]") {
  array x = rand_like({64, 32}, 3), w = rand_like({1, 32}, 4);
  auto f = [](const std::vector<array>& in) { return behind_a_matmul(in, costly); };
  JitFunction jf = jit_equal_to_eager(f, {x, w}, "recompute_costly");
  INFO(jf.report_json());
  CHECK(stored_for_other_kernels(jf) == 1);
  CHECK(nlohmann::json::parse(jf.report_json())["recomputed"].empty());
}

TEST_CASE("a value a library call also reads stays in memory", "[jit][recompute]") {
  // `a` is read by the kernel behind the first matmul, then by a second
  // matmul: the library call needs it in memory, so it is stored and loaded.
  array x = rand_like({64, 32}, 5), w = rand_like({1, 32}, 6), w2 = rand_like({32, 32}, 8);
  auto f = [](const std::vector<array>& in) {
    array a = cheap(in[0]);
    array h = matmul(sum(a, {1}, true), in[1]);
    array read_by_kernel = sum(a * h, {1});
    array read_by_library = matmul(a, in[2]);
    return std::vector<array>{read_by_kernel, sum(read_by_library, {1})};
  };
  JitFunction jf = jit_equal_to_eager(f, {x, w, w2}, "recompute_library_reader");
  INFO(jf.report_json());
  CHECK(stored_for_other_kernels(jf) == 1);
}
