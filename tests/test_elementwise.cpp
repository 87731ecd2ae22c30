// Elementwise ops: values, broadcasting, promotion, errors.
#include <cmath>
#include <limits>

#include "test_utils.h"

using namespace mfx;

namespace {
const double kNanE = std::numeric_limits<double>::quiet_NaN();
const double kInfE = std::numeric_limits<double>::infinity();
}  // namespace
using mfx::test::check_close;
using mfx::test::check_throws_with;

TEST_CASE("arithmetic with broadcasting", "[elementwise]") {
  array a({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  array b({10.f, 20.f, 30.f});
  check_close(a + b, {11, 22, 33, 14, 25, 36}, {2, 3});
  check_close(a - b, {-9, -18, -27, -6, -15, -24}, {2, 3});
  check_close(a * b, {10, 40, 90, 40, 100, 180}, {2, 3});
  check_close(b / a, {10, 10, 10, 2.5, 4, 5}, {2, 3});
  array col({1.f, 2.f}, {2, 1});
  check_close(col + b, {11, 21, 31, 12, 22, 32}, {2, 3});
  check_close(a * 2.0f, {2, 4, 6, 8, 10, 12}, {2, 3});
  check_close(1.0 - a, {0, -1, -2, -3, -4, -5}, {2, 3});
}

TEST_CASE("dtype promotion", "[elementwise][dtype]") {
  CHECK(promote_types(uint8, int32) == int32);
  CHECK(promote_types(int32, int64) == int64);
  CHECK(promote_types(bool_, uint8) == uint8);
  CHECK(promote_types(int64, float16) == float16);
  CHECK(promote_types(float16, bfloat16) == float32);
  CHECK(promote_types(float32, float64) == float64);
  array i({1, 2, 3});
  array f({0.5f, 0.5f, 0.5f});
  CHECK((i + f).dtype() == float32);
  CHECK((i / i).dtype() == float32);
  CHECK((i * 2).dtype() == int32);
  CHECK((i * 2.5).dtype() == float32);
  array h = astype(f, float16);
  CHECK((h * 2.0).dtype() == float16);  // weak scalar keeps the array type
  CHECK((h + array(1.0)).dtype() == float64);
  CHECK(exp(i).dtype() == float32);
  CHECK(equal(i, i).dtype() == bool_);
}

TEST_CASE("integer division and remainder follow numpy", "[elementwise]") {
  array a({7, -7, 7, -7, 5});
  array b({2, 2, -2, -2, 0});
  check_close(floor_divide(a, b), {3, -4, -4, 3, 0}, {5});
  check_close(remainder(a, b), {1, 1, -1, -1, 0}, {5});
  array af({7.5, -7.5});
  array bf({2.0, 2.0});
  check_close(floor_divide(af, bf), {3, -4}, {2});
  check_close(remainder(af, bf), {1.5, 0.5}, {2});
  check_close(power(array({2, 3, -2}), array({10, 0, 3})), {1024, 1, -8}, {3});
  check_close(power(array({4.0, 2.0}), array({0.5, -1.0})), {2, 0.5}, {2});
}

TEST_CASE("unary math", "[elementwise]") {
  array x({-2.0, -0.5, 0.0, 0.5, 2.0});
  auto map = [](std::vector<double> v, double (*f)(double)) {
    for (auto& e : v) e = f(e);
    return v;
  };
  std::vector<double> xv{-2.0, -0.5, 0.0, 0.5, 2.0};
  check_close(exp(x), map(xv, std::exp), {5}, 1e-12, 0);
  check_close(expm1(x), map(xv, std::expm1), {5}, 1e-12, 1e-15);
  check_close(sin(x), map(xv, std::sin), {5}, 1e-12, 1e-15);
  check_close(cos(x), map(xv, std::cos), {5}, 1e-12, 1e-15);
  check_close(tanh(x), map(xv, std::tanh), {5}, 1e-12, 1e-15);
  check_close(erf(x), map(xv, std::erf), {5}, 1e-12, 1e-15);
  check_close(arctan(x), map(xv, std::atan), {5}, 1e-12, 1e-15);
  check_close(abs(x), {2, 0.5, 0, 0.5, 2}, {5});
  check_close(sign(x), {-1, -1, 0, 1, 1}, {5});
  // NaN stays NaN, -0 gives +0, infinities their sign; float32 and int32 too.
  for (Dtype dt : {float64, float32}) {
    auto sv = sign(astype(array({kNanE, -0.0, -kInfE, kInfE, -3.0, 1e-30}), dt)).to_vector<double>();
    CHECK(std::isnan(sv[0]));
    CHECK((sv[1] == 0 && !std::signbit(sv[1])));
    CHECK(std::vector<double>(sv.begin() + 2, sv.end()) == std::vector<double>{-1, 1, -1, 1});
  }
  CHECK(sign(array({-7, 0, 9}, {3}, int32)).to_vector<int>() == std::vector<int>{-1, 0, 1});
  check_close(square(x), {4, 0.25, 0, 0.25, 4}, {5});
  check_close(negative(x), {2, 0.5, 0, -0.5, -2}, {5});
  check_close(sigmoid(x), {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 0.5,
                           1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-2.0))},
              {5}, 1e-12, 0);
  check_close(relu(x), {0, 0, 0, 0.5, 2}, {5});
  array p({0.25, 1.0, 4.0});
  check_close(sqrt(p), {0.5, 1, 2}, {3});
  check_close(rsqrt(p), {2, 1, 0.5}, {3});
  check_close(log(p), {std::log(0.25), 0, std::log(4.0)}, {3}, 1e-12, 1e-15);
  check_close(log1p(p), {std::log1p(0.25), std::log1p(1.0), std::log1p(4.0)}, {3}, 1e-12, 0);
  check_close(reciprocal(p), {4, 1, 0.25}, {3});
  array r({-1.5, -0.5, 0.5, 1.5, 2.5, 2.7});
  check_close(round(r), {-2, -0, 0, 2, 2, 3}, {6});
  check_close(floor(r), {-2, -1, 0, 1, 2, 2}, {6});
  check_close(ceil(r), {-1, -0, 1, 2, 3, 3}, {6});
  array y({0.0, 0.5, -0.9, 0.999});
  auto back = erf(erfinv(y));
  check_close(back, {0.0, 0.5, -0.9, 0.999}, {4}, 1e-12, 1e-14);
}

TEST_CASE("gelu and softplus", "[elementwise]") {
  array x({-3.0, -1.0, 0.0, 1.0, 3.0, 50.0, -50.0});
  std::vector<double> xv{-3.0, -1.0, 0.0, 1.0, 3.0, 50.0, -50.0};
  std::vector<double> g, ga, sp;
  for (double v : xv) {
    g.push_back(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    ga.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    sp.push_back(v > 30 ? v : std::log1p(std::exp(v)));
  }
  check_close(gelu(x), g, {7}, 1e-12, 1e-14);
  check_close(gelu(x, true), ga, {7}, 1e-12, 1e-14);
  check_close(softplus(x), sp, {7}, 1e-12, 1e-14);
  check_close(log_sigmoid(array({-50.0, 0.0})), {-50.0, -std::log(2.0)}, {2}, 1e-12, 1e-14);
}

TEST_CASE("comparisons, logical ops, where, nan tests", "[elementwise]") {
  array a({1, 2, 3});
  array b({3, 2, 1});
  check_close(a < b, {1, 0, 0}, {3});
  check_close(a <= b, {1, 1, 0}, {3});
  check_close(a > b, {0, 0, 1}, {3});
  check_close(a >= b, {0, 1, 1}, {3});
  check_close(equal(a, b), {0, 1, 0}, {3});
  check_close(not_equal(a, b), {1, 0, 1}, {3});
  array t({true, false, true});
  array u({true, true, false});
  check_close(t && u, {1, 0, 0}, {3});
  check_close(t || u, {1, 1, 1}, {3});
  check_close(logical_xor(t, u), {0, 1, 1}, {3});
  check_close(!t, {0, 1, 0}, {3});
  check_close(where(t, a, b), {1, 2, 3}, {3});
  check_close(where(array(false), a, array(9.5f)), {9.5, 9.5, 9.5}, {3});
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  array z({1.0, nan, inf, -inf});
  check_close(isnan(z), {0, 1, 0, 0}, {4});
  check_close(isinf(z), {0, 0, 1, 1}, {4});
  check_close(isfinite(z), {1, 0, 0, 0}, {4});
  check_close(maximum(z, array(0.0)), {1, nan, inf, 0}, {4});
  check_close(minimum(z, array(0.0)), {0, nan, 0, -inf}, {4});
  check_close(clip(array({-2.f, 0.5f, 3.f}), array(0.f), array(1.f)), {0, 0.5, 1}, {3});
}

TEST_CASE("astype conversions", "[elementwise][dtype]") {
  array f({-1.7f, 0.0f, 2.9f});
  check_close(astype(f, int32), {-1, 0, 2}, {3});
  check_close(astype(f, bool_), {1, 0, 1}, {3});
  check_close(astype(array({true, false}), float32), {1, 0}, {2});
  array h = astype(array({0.1f, 65504.f, 1e-7f, 70000.f}), float16);
  auto hv = h.to_vector<float>();
  CHECK(std::abs(hv[0] - 0.1f) < 1e-4);
  CHECK(hv[1] == 65504.f);
  CHECK(std::abs(hv[2] - 1.19209e-07f) < 1e-9);  // nearest subnormal
  CHECK(std::isinf(hv[3]));
  array bf = astype(array({1.0f / 3.0f}), bfloat16);
  CHECK(std::abs(bf.item<float>() - 0.333984375f) < 1e-9);
  for (Dtype t : {bool_, uint8, int32, int64, float16, bfloat16, float32, float64}) {
    array x = astype(array({0, 1, 2}), t);
    CHECK(x.dtype() == t);
    CHECK(x.to_vector<double>()[1] == 1.0);
  }
}

// Out-of-range float -> integer casts are undefined in C++; mfx defines them
// as the x86 truncating conversion (and jitted code) does: the minimum of
// int32 (int64 for int64) for NaN, +-inf and values outside it, uint8 the
// low byte of the int32 value.
TEST_CASE("astype float to integer out of range is defined", "[elementwise][dtype]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> v = {-2.5, 300.7, nan, inf, -inf, 3e9, -1e20, 255.9};
  constexpr int64_t i32min = std::numeric_limits<int32_t>::min();
  constexpr int64_t i64min = std::numeric_limits<int64_t>::min();
  for (Dtype src : {float64, float32}) {
    array x = astype(array(v, {8}, float64), src);
    CHECK(astype(x, uint8).to_vector<int64_t>() == std::vector<int64_t>{254, 44, 0, 0, 0, 0, 0, 255});
    CHECK(astype(x, int32).to_vector<int64_t>() ==
          std::vector<int64_t>{-2, 300, i32min, i32min, i32min, i32min, i32min, 255});
    CHECK(astype(x, int64).to_vector<int64_t>() ==
          std::vector<int64_t>{-2, 300, i64min, i64min, i64min, 3000000000, i64min, 255});
  }
  // The conversion in the array constructor is the same one.
  CHECK(array(std::vector<double>{-1.0, nan}, {2}, uint8).to_vector<int64_t>() ==
        std::vector<int64_t>{255, 0});
}

TEST_CASE("elementwise on non-contiguous views", "[elementwise][views]") {
  array a = reshape(arange(12, float32), {3, 4});
  array t = transpose(a);  // (4,3)
  array s = slice(a, {0, 0}, {3, 4}, {2, 3});  // rows 0,2; cols 0,3
  check_close(t + 1.0f, {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12}, {4, 3});
  check_close(exp(s) * 0.0f, {0, 0, 0, 0}, {2, 2});
  check_close(s * s, {0, 9, 64, 121}, {2, 2});
  check_close(flip(a, {1}) - a, {3, 1, -1, -3, 3, 1, -1, -3, 3, 1, -1, -3}, {3, 4});
}

TEST_CASE("elementwise errors", "[elementwise][errors]") {
  check_throws_with([] { add(ones({2, 3}), ones({4})); }, {"[add]", "(2,3)", "(4)"});
  // Each binary op names itself as the caller spells it, not its primitive.
  check_throws_with([] { floor_divide(ones({2}), ones({3})); }, {"[floor_divide]", "(2)", "(3)"});
  check_throws_with([] { logical_or(ones({2}), ones({3})); }, {"[logical_or]"});
  check_throws_with([] { greater_equal(ones({2}), ones({3})); }, {"[greater_equal]"});
  check_throws_with([] { negative(array({true})); }, {"[negative]", "bool"});
  check_throws_with([] { where(array({true, false}), ones({3}), ones({3})); }, {"[where]", "(2)", "(3)"});
  check_throws_with([] { add(array(), ones({1})); }, {"null"});
}

TEST_CASE("large elementwise ops split across threads give exact results", "[elementwise][parallel]") {
  const int64_t n = 300007;  // not a multiple of any chunk size
  array a = arange(n, float64);
  array b = a * 2.0;  // scalar broadcast path
  array c = a + b;    // contiguous path
  array m = reshape(arange(600 * 700, float64), {600, 700});
  array t = transpose(m) + 1.0;  // strided path, split by rows
  auto cv = c.to_vector<double>();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok = ok && cv[i] == 3.0 * static_cast<double>(i);
  CHECK(ok);
  auto tv = t.to_vector<double>();
  for (int64_t i = 0; i < 700; ++i) {
    for (int64_t j = 0; j < 600; ++j) ok = ok && tv[i * 600 + j] == static_cast<double>(j * 700 + i + 1);
  }
  CHECK(ok);
  CHECK(sum(exp(a * 0.0)).item<double>() == static_cast<double>(n));
}

TEST_CASE("where on large, broadcast and strided operands of every dtype",
          "[elementwise][parallel]") {
  // Enough elements for the parallel paths; the mask is irregular so that a
  // branchy kernel and a blend give the same answer only if both are right.
  const int64_t rows = 300, cols = 257;
  array idx = reshape(arange(rows * cols, int64), {rows, cols});
  array k = idx * array(int64_t{7}) + floor_divide(idx, array(int64_t{5}));
  array cond = equal(remainder(k, array(int64_t{3})), array(int64_t{0}));
  auto want = [&](int64_t i, double x, double y) { return ((i * 7 + i / 5) % 3 == 0) ? x : y; };
  for (Dtype dt : {float32, float64, float16, int32, int64, uint8}) {
    INFO(dtype_name(dt));
    array x = astype(remainder(idx, array(int64_t{100})), dt);  // contiguous
    array y = astype(array(7.0), dt);                           // broadcast scalar
    auto v1 = astype(where(cond, x, y), float64).to_vector<double>();
    auto v2 = astype(where(cond, y, x), float64).to_vector<double>();
    auto v3 = astype(where(cond, y, astype(array(3.0), dt)), float64).to_vector<double>();
    bool ok = true;
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double xi = static_cast<double>(i % 100);
      ok = ok && v1[i] == want(i, xi, 7) && v2[i] == want(i, 7, xi) && v3[i] == want(i, 7, 3);
    }
    CHECK(ok);
  }
  // Transposed condition and operand (strided rows), bool values, and bits
  // passed through unchanged (NaN, -0).
  array ct = transpose(cond);  // [cols, rows]
  array xt = transpose(astype(idx, float32));
  auto vt = where(ct, xt, array(-1.0f)).to_vector<float>();
  bool ok = true;
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r * cols + c;
      ok = ok && vt[c * rows + r] == static_cast<float>(want(i, static_cast<double>(i), -1));
    }
  }
  CHECK(ok);
  check_close(where(array({true, false, true}), array({true, true, false}), array(false)),
              {1, 0, 0}, {3});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto special = where(array({true, false}), array({nan, 1.0}), array(-0.0)).to_vector<double>();
  CHECK(std::isnan(special[0]));
  CHECK(std::signbit(special[1]));
}
