// float32 exp/log/log1p/tanh/sigmoid (the vectorised kernels of lib/cpu/fast_math.h):
// ulp error against double libm over the whole float range, special values,
// strided inputs and the half types that share the float path.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "test_utils.h"

using namespace mfx;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

float from_bits(uint32_t b) {
  return std::bit_cast<float>(b);
}

// ~1M finite floats: a stride through every bit pattern (both signs, all
// exponents, subnormals) plus dense runs of consecutive floats around the
// thresholds where exp overflows, goes subnormal and underflows, where tanh
// switches formula, and around 0 and 1.
std::vector<float> sweep() {
  std::vector<float> v;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 4801) {
    float f = from_bits(static_cast<uint32_t>(b));
    if (std::isfinite(f)) v.push_back(f);
  }
  for (float c : {88.7228391f, -87.3365479f, -103.972084f, 0.625f, 1.0f, 0.0f, 1.17549435e-38f}) {
    for (float s : {c, -c}) {
      float lo = s, hi = s;
      for (int i = 0; i < 20000; ++i) {
        lo = std::nextafter(lo, -kInf);
        hi = std::nextafter(hi, kInf);
        v.push_back(lo);
        v.push_back(hi);
      }
    }
  }
  return v;
}

// |got - ref| in units of the float ulp at ref (subnormal spacing below
// FLT_MIN). Where ref rounds to ±inf in float, only that inf is accepted.
double ulp_error(float got, double ref) {
  if (std::isnan(ref)) return std::isnan(got) ? 0 : 1e30;
  float rf = static_cast<float>(ref);
  if (std::isinf(rf) || std::isinf(got) || std::isnan(got)) return got == rf ? 0 : 1e30;
  int e;
  std::frexp(ref, &e);
  double ulp = std::ldexp(1.0, std::max(e - 24, -149));
  return std::abs(double(got) - ref) / ulp;
}

// Worst error of op over xs, both through the contiguous loop and through a
// broadcast (strided) view, which takes the generic strided loop.
double max_ulp(const std::function<array(const array&)>& op, double (*ref)(double),
               const std::vector<float>& xs) {
  const int64_t n = int64_t(xs.size());
  array x(xs, {n});
  auto got = op(x).to_vector<float>();
  auto got_strided = op(broadcast_to(reshape(x, {n, 1}), {n, 2})).to_vector<float>();
  double worst = 0;
  float at = 0;
  for (int64_t i = 0; i < n; ++i) {
    double want = ref(double(xs[i]));
    double err = std::max({ulp_error(got[i], want), ulp_error(got_strided[2 * i], want),
                           ulp_error(got_strided[2 * i + 1], want)});
    if (err > worst) {
      worst = err;
      at = xs[i];
    }
  }
  UNSCOPED_INFO("worst input " << at << " (" << worst << " ulp)");
  return worst;
}

double ref_exp(double v) {
  return std::exp(v);
}
double ref_log(double v) {
  return std::log(v);
}
double ref_log1p(double v) {
  return std::log1p(v);
}
double ref_tanh(double v) {
  return std::tanh(v);
}
double ref_sigmoid(double v) {
  return 1 / (1 + std::exp(-v));
}

std::vector<float> eval_f(array a) {
  return a.to_vector<float>();
}

bool same_bits(float a, float b) {
  return std::isnan(a) ? std::isnan(b) : std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

}  // namespace

TEST_CASE("fast float32 math: ulp error over the whole range", "[fast_math]") {
  static const std::vector<float> xs = sweep();
  REQUIRE(xs.size() > 1000000);
  // Measured maxima on this sweep (and on a 44M-point sweep of all bit
  // patterns): exp 0.99, log 0.79, tanh 1.31, sigmoid 2.28 ulp; log1p 1.44 ulp on
  // this sweep.
  SECTION("exp") {
    CHECK(max_ulp([](const array& a) { return exp(a); }, ref_exp, xs) <= 1.5);
  }
  SECTION("log") {
    std::vector<float> pos;  // negatives are NaN, covered below
    for (float f : xs) {
      if (f > 0) pos.push_back(f);
    }
    CHECK(max_ulp([](const array& a) { return log(a); }, ref_log, pos) <= 1.5);
  }
  SECTION("log1p") {
    std::vector<float> dom;  // x < -1 is NaN, covered below
    for (float f : xs) {
      if (f >= -1.f) dom.push_back(f);
    }
    CHECK(max_ulp([](const array& a) { return log1p(a); }, ref_log1p, dom) <= 2.0);
  }
  SECTION("tanh") {
    CHECK(max_ulp([](const array& a) { return tanh(a); }, ref_tanh, xs) <= 2.0);
  }
  SECTION("sigmoid") {
    CHECK(max_ulp([](const array& a) { return sigmoid(a); }, ref_sigmoid, xs) <= 2.5);
  }
}

TEST_CASE("fast float32 math: special values", "[fast_math]") {
  const float max = std::numeric_limits<float>::max();
  const float tiny = std::numeric_limits<float>::denorm_min();
  array x({kNaN, kInf, -kInf, 0.f, -0.f, 89.f, -104.f, max, -max, tiny, -tiny});
  auto e = eval_f(exp(x));
  CHECK(std::isnan(e[0]));
  CHECK(e[1] == kInf);
  CHECK(e[2] == 0.f);
  CHECK(e[3] == 1.f);
  CHECK(e[4] == 1.f);
  CHECK(e[5] == kInf);
  CHECK(e[6] == 0.f);
  CHECK(e[7] == kInf);
  CHECK(e[8] == 0.f);
  CHECK(e[9] == 1.f);
  CHECK(e[10] == 1.f);
  // exp(-100) = 3.720076e-44, a subnormal: np.exp(np.float32(-100))
  CHECK(eval_f(exp(array({-100.f})))[0] == from_bits(27));

  auto l = eval_f(log(x));
  CHECK(std::isnan(l[0]));
  CHECK(l[1] == kInf);
  CHECK(std::isnan(l[2]));
  CHECK(l[3] == -kInf);
  CHECK(l[4] == -kInf);
  CHECK(std::isnan(l[6]));
  CHECK(std::isnan(l[8]));
  CHECK(l[9] == static_cast<float>(std::log(double(tiny))));  // -103.27893
  CHECK(std::isnan(l[10]));
  CHECK(eval_f(log(array({1.f})))[0] == 0.f);

  auto lp = eval_f(log1p(x));
  CHECK(std::isnan(lp[0]));
  CHECK(lp[1] == kInf);
  CHECK(std::isnan(lp[2]));
  CHECK(same_bits(lp[3], 0.f));
  CHECK(same_bits(lp[4], -0.f));
  CHECK(std::isnan(lp[8]));
  CHECK(lp[9] == tiny);  // log1p(x) = x for tiny x
  CHECK(lp[10] == -tiny);
  auto lp2 = eval_f(log1p(array({-1.f, -1.5f, max})));
  CHECK(lp2[0] == -kInf);
  CHECK(std::isnan(lp2[1]));
  CHECK(lp2[2] == static_cast<float>(std::log1p(double(max))));  // 88.72284

  auto t = eval_f(tanh(x));
  CHECK(std::isnan(t[0]));
  CHECK(t[1] == 1.f);
  CHECK(t[2] == -1.f);
  CHECK(same_bits(t[3], 0.f));
  CHECK(same_bits(t[4], -0.f));
  CHECK(t[5] == 1.f);
  CHECK(t[6] == -1.f);
  CHECK(t[7] == 1.f);
  CHECK(t[8] == -1.f);
  CHECK(t[9] == tiny);
  CHECK(t[10] == -tiny);

  auto s = eval_f(sigmoid(x));
  CHECK(std::isnan(s[0]));
  CHECK(s[1] == 1.f);
  CHECK(s[2] == 0.f);
  CHECK(s[3] == 0.5f);
  CHECK(s[4] == 0.5f);
  CHECK(s[5] == 1.f);
  CHECK(s[6] == 0.f);
  CHECK(s[7] == 1.f);
  CHECK(s[8] == 0.f);
  // sigmoid(-100) = 3.7200760e-44 (1 / (1 + exp(100)) in double)
  CHECK(eval_f(sigmoid(array({-100.f})))[0] == from_bits(27));
}

TEST_CASE("fast float32 math: strided inputs match contiguous ones", "[fast_math]") {
  // 64 x 96 values in [-12, 12) and (0, 24]: transposed, negatively strided
  // and broadcast views go through the strided loop; results must match the
  // contiguous loop (bitwise with SSE2; the AVX2+FMA clone picked on capable
  // x86-64 CPUs may round the last bit differently).
  std::vector<float> v(64 * 96);
  for (size_t i = 0; i < v.size(); ++i) v[i] = -12.f + 24.f * float(i) / float(v.size());
  array a(v, {64, 96});
  array pos = a + 12.001f;
  auto check = [](const array& view, const std::function<array(const array&)>& op) {
    REQUIRE_FALSE(view.flags().row_contiguous);
    auto got = eval_f(op(view));
    array dense(eval_f(view), view.shape());
    auto want = eval_f(op(dense));
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("element " << i);
      REQUIRE(std::abs(double(got[i]) - double(want[i])) <= std::abs(double(want[i])) * 1.2e-7);
    }
  };
  for (auto op : std::vector<std::function<array(const array&)>>{
           [](const array& y) { return exp(y); }, [](const array& y) { return tanh(y); },
           [](const array& y) { return sigmoid(y); }}) {
    array t = transpose(a);
    t.eval();
    check(t, op);
    array s = slice(a, {63, 95}, {-65, -97}, {-2, -3});
    s.eval();
    check(s, op);
  }
  array lt = transpose(pos);
  lt.eval();
  check(lt, [](const array& y) { return log(y); });
  check(lt, [](const array& y) { return log1p(y); });
  array b = broadcast_to(slice(pos, {0, 0}, {1, 96}), {8, 96});
  b.eval();
  check(b, [](const array& y) { return log(y); });
}

TEST_CASE("fast float32 math: half types and float64", "[fast_math]") {
  // Halves compute in float through the same kernels:
  // np.exp / np.log / np.tanh of np.float16([-2, 0.5, 3]), and the same in
  // bfloat16 within its 8-bit mantissa.
  array x({-2.f, 0.5f, 3.f});
  for (Dtype dt : {float16, bfloat16}) {
    array h = astype(x, dt);
    double tol = dt == float16 ? 1e-3 : 8e-3;
    CHECK(exp(h).dtype() == dt);
    mfx::test::check_close(exp(h), {std::exp(-2.0), std::exp(0.5), std::exp(3.0)}, {3}, tol, 0);
    mfx::test::check_close(log(astype(array({0.5f, 3.f}), dt)), {std::log(0.5), std::log(3.0)}, {2},
                           tol, 0);
    mfx::test::check_close(log1p(astype(array({-0.5f, 0.5f, 3.f}), dt)),
                           {std::log1p(-0.5), std::log1p(0.5), std::log1p(3.0)}, {3}, tol, 0);
    mfx::test::check_close(tanh(h), {std::tanh(-2.0), std::tanh(0.5), std::tanh(3.0)}, {3}, tol, 0);
    mfx::test::check_close(
        sigmoid(h), {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))},
        {3}, tol, 0);
  }
  // float64 keeps libm: exact to double rounding.
  array d({-2.0, 0.5, 700.0});
  mfx::test::check_close(exp(d), {std::exp(-2.0), std::exp(0.5), std::exp(700.0)}, {3}, 1e-15, 0);
}
