// vjp/jvp rules of the elementwise and view primitives, checked against
// central differences and hand-computed values (rules called directly).
#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

// x in [lo, hi) as float64, shape (2, 3).
array input(double lo, double hi, uint64_t seed = 1, Shape shape = {2, 3}) {
  return (rand_like(shape, seed) + 1.0) * ((hi - lo) / 2) + lo;
}

std::vector<array> vjp_of(const array& y, const array& ct, std::vector<int> argnums) {
  return y.primitive().vjp(y.inputs(), {ct}, argnums, y.outputs());
}

}  // namespace

TEST_CASE("grad: smooth unary rules match finite differences") {
  struct Case {
    const char* name;
    array (*f)(const array&);
    double lo, hi;
  };
  std::vector<Case> cases = {
      {"Negative", negative, -2, 2}, {"Abs", abs, 0.1, 2},
      {"Exp", exp, -2, 2},           {"Log", log, 0.2, 3},
      {"Log1p", log1p, -0.5, 3},     {"Expm1", expm1, -2, 2},
      {"Sqrt", sqrt, 0.2, 3},        {"Rsqrt", rsqrt, 0.2, 3},
      {"Square", square, -2, 2},     {"Reciprocal", reciprocal, 0.3, 3},
      {"Sin", sin, -3, 3},           {"Cos", cos, -3, 3},
      {"Tan", tan, -1, 1},           {"Arctan", arctan, -3, 3},
      {"Tanh", tanh, -2, 2},         {"Sigmoid", sigmoid, -3, 3},
      {"Erf", erf, -2, 2},           {"Erfinv", erfinv, -0.9, 0.9},
      {"Sign", sign, 0.1, 2},        {"Floor", floor, 0.1, 0.9},
      {"Ceil", ceil, 0.1, 0.9},      {"Round", round, 0.1, 0.4},
  };
  for (auto& c : cases) {
    auto f = c.f;
    check_grads([f](const std::vector<array>& in) { return f(in[0]); }, {input(c.lo, c.hi)},
                c.name);
  }
  // Abs on negatives, non-contiguous input (the primitive sees the transposed view).
  check_grads([](const std::vector<array>& in) { return abs(transpose(in[0])); }, {input(-2, -0.1)},
              "Abs");
}

TEST_CASE("grad: unary rules with exact values and dtypes") {
  // d|x|/dx at 0 is 0; d exp(x)/dx = exp(x).
  array x = array({-1.0, 0.0, 2.0});
  array y = abs(x);
  check_close(vjp_of(y, ones_like(x), {0})[0], {-1, 0, 1}, {3});
  array e = exp(x);
  check_close(vjp_of(e, array({1.0, 2.0, 3.0}), {0})[0], {std::exp(-1.0), 2.0, 3 * std::exp(2.0)},
              {3});
  // float32 stays float32.
  array xf = array({1.0f, 4.0f});
  array s = sqrt(xf);
  auto g = vjp_of(s, ones_like(xf), {0})[0];
  CHECK(g.dtype() == float32);
  check_close(g, {0.5, 0.25}, {2});
  // Integer and bool-valued unaries give zeros of the right dtype.
  array xi = array({-2, 3});
  array ai = abs(xi);
  auto gi = vjp_of(ai, ones_like(ai), {0})[0];
  CHECK(gi.dtype() == int32);
  check_close(gi, {0, 0}, {2});
  auto ti = ai.primitive().jvp(ai.inputs(), {ones_like(xi)}, {0})[0];
  CHECK(ti.dtype() == int32);
  array n = isnan(x);
  auto gn = vjp_of(n, zeros_like(n), {0})[0];
  CHECK(gn.dtype() == float64);
  check_close(gn, {0, 0, 0}, {3});
  auto tn = n.primitive().jvp(n.inputs(), {ones_like(x)}, {0})[0];
  CHECK(tn.dtype() == bool_);
  CHECK(tn.shape() == Shape{3});
}

TEST_CASE("grad: binary rules match finite differences") {
  using BFn = array (*)(const array&, const array&);
  struct Case {
    const char* name;
    BFn f;
    double alo, ahi, blo, bhi;
  };
  std::vector<Case> cases = {
      {"Add", add, -2, 2, -2, 2},
      {"Subtract", subtract, -2, 2, -2, 2},
      {"Multiply", multiply, -2, 2, -2, 2},
      {"Divide", divide, -2, 2, 0.5, 2},
      {"Remainder", remainder, 0.1, 0.9, 1.2, 2},
      {"Power", power, 0.3, 2, -2, 2},
      {"Maximum", maximum, -2, 2, -2, 2},
      {"Minimum", minimum, -2, 2, -2, 2},
      {"Arctan2", arctan2, -2, 2, 0.5, 2},
      {"FloorDivide", floor_divide, 0.1, 0.9, 1.2, 2},
      {"Less", less, -2, 2, -2, 2},
      {"Equal", equal, -2, 2, -2, 2},
  };
  for (auto& c : cases) {
    auto f = c.f;
    check_grads([f](const std::vector<array>& in) { return f(in[0], in[1]); },
                {input(c.alo, c.ahi, 1), input(c.blo, c.bhi, 2)}, c.name);
  }
  // Remainder with negative operands: numpy's sign-of-divisor convention.
  check_grads([](const std::vector<array>& in) { return remainder(in[0], in[1]); },
              {input(-3.9, -3.1, 1), input(-2, -1.2, 2)}, "Remainder");
  // Broadcast operands: the Binary primitive sees already broadcast inputs.
  check_grads([](const std::vector<array>& in) { return multiply(in[0], in[1]); },
              {input(-2, 2, 1, {2, 1}), input(-2, 2, 2, {3})}, "Multiply");
}

TEST_CASE("grad: maximum/minimum split ties, power at zero") {
  array a = array({1.0, 2.0, 3.0});
  array b = array({2.0, 2.0, 1.0});
  array m = maximum(a, b);
  auto g = vjp_of(m, array({1.0, 1.0, 1.0}), {0, 1});
  check_close(g[0], {0, 0.5, 1}, {3});
  check_close(g[1], {1, 0.5, 0}, {3});
  array mn = minimum(a, b);
  auto gm = vjp_of(mn, array({1.0, 1.0, 1.0}), {0, 1});
  check_close(gm[0], {1, 0.5, 0}, {3});
  check_close(gm[1], {0, 0.5, 1}, {3});
  // power(x, y) at x = 0: d/dx = y x^(y-1) (0 for y = 0, 1 for y = 1, 0 for y = 2);
  // d/dy taken as 0 (no NaN from 0 * log 0).
  array x = array({0.0, 0.0, 0.0, 2.0});
  array y = array({0.0, 1.0, 2.0, 3.0});
  array p = power(x, y);
  // Rules and their results are taken before anything evaluates p (which
  // would drop its primitive and inputs).
  auto tp = p.primitive().jvp(p.inputs(), {ones_like(x), ones_like(y)}, {0, 1})[0];
  auto gp = vjp_of(p, ones_like(x), {0, 1});
  check_close(gp[0], {0, 1, 0, 12}, {4});
  check_close(gp[1], {0, 0, 0, 8 * std::log(2.0)}, {4});
  check_close(tp, {0, 1, 0, 12 + 8 * std::log(2.0)}, {4});
}

TEST_CASE("grad: comparisons and integer binaries give zeros") {
  array a = array({1, 2}), b = array({3, 1});
  array s = a + b;
  auto g = vjp_of(s, ones_like(s), {0, 1});
  CHECK(g[0].dtype() == int32);
  check_close(g[1], {0, 0}, {2});
  array c = less(array({1.0, 2.0}), array({2.0, 1.0}));
  auto gc = vjp_of(c, zeros_like(c), {0});
  CHECK(gc[0].dtype() == float64);
  check_close(gc[0], {0, 0}, {2});
  auto tc = c.primitive().jvp(c.inputs(), {ones_like(c.inputs()[0])}, {0})[0];
  CHECK(tc.dtype() == bool_);
}

TEST_CASE("grad: select routes the cotangent by the condition") {
  array cond = array({true, false, true});
  check_grads([&](const std::vector<array>& in) { return where(cond, in[0], in[1]); },
              {input(-1, 1, 1, {3}), input(-1, 1, 2, {3})}, "Select");
  array y = where(cond, array({1.0, 2.0, 3.0}), array({4.0, 5.0, 6.0}));
  auto g = vjp_of(y, array({1.0, 2.0, 3.0}), {0, 1, 2});
  CHECK(g[0].dtype() == bool_);
  check_close(g[1], {1, 0, 3}, {3});
  check_close(g[2], {0, 2, 0}, {3});
}

TEST_CASE("grad: astype and stop_gradient") {
  // float64 -> float32 -> back: cotangent cast back to float64.
  array x = array({1.5, -2.0});
  array y = astype(x, float32);
  auto g = vjp_of(y, array({1.0f, 2.0f}), {0})[0];
  CHECK(g.dtype() == float64);
  check_close(g, {1, 2}, {2});
  auto t = y.primitive().jvp(y.inputs(), {array({3.0, 4.0})}, {0})[0];
  CHECK(t.dtype() == float32);
  check_close(t, {3, 4}, {2});
  // To an integer type the derivative is cut.
  array yi = astype(x, int32);
  auto gi = vjp_of(yi, array({1, 1}), {0})[0];
  CHECK(gi.dtype() == float64);
  check_close(gi, {0, 0}, {2});
  auto ti = yi.primitive().jvp(yi.inputs(), {ones_like(x)}, {0})[0];
  CHECK(ti.dtype() == int32);
  check_close(ti, {0, 0}, {2});
  array s = stop_gradient(x);
  check_close(vjp_of(s, ones_like(x), {0})[0], {0, 0}, {2});
  check_close(s.primitive().jvp(s.inputs(), {ones_like(x)}, {0})[0], {0, 0}, {2});
}

TEST_CASE("grad: view primitives") {
  check_grads(
      [](const std::vector<array>& in) {
        return reshape(in[0], {3, 2});
      },
      {input(-1, 1)}, "Reshape");
  check_grads(
      [](const std::vector<array>& in) {
        return transpose(in[0], {2, 0, 1});
      },
      {input(-1, 1, 1, {2, 3, 4})}, "Transpose");
  check_grads(
      [](const std::vector<array>& in) {
        return broadcast_to(in[0], {4, 2, 3});
      },
      {input(-1, 1, 1, {2, 1})}, "Broadcast");
  check_grads(
      [](const std::vector<array>& in) {
        return broadcast_to(in[0], {2, 3});
      },
      {input(-1, 1, 1, {})}, "Broadcast");
  // Step 1, step > 1, negative steps, offsets that leave a tail.
  check_grads(
      [](const std::vector<array>& in) {
        return slice(in[0], {1, 0}, {4, 2});
      },
      {input(-1, 1, 1, {5, 3})}, "Slice");
  check_grads(
      [](const std::vector<array>& in) {
        return slice(in[0], {1, 0}, {7, 5}, {2, 3});
      },
      {input(-1, 1, 1, {7, 5})}, "Slice");
  check_grads(
      [](const std::vector<array>& in) {
        return slice(in[0], {5, 4}, {-8, 0}, {-2, -1});
      },
      {input(-1, 1, 1, {7, 5})}, "Slice");
  check_grads([](const std::vector<array>& in) { return flip(in[0], {1}); },
              {input(-1, 1, 1, {2, 4})}, "Slice");
}

TEST_CASE("grad: slice and broadcast vjp values") {
  // np.zeros(7); g[5::-2] = [1, 2, 3]  ->  [0, 3, 0, 2, 0, 1, 0]
  array x = zeros({7}, float64);
  array y = slice(x, {5}, {-8}, {-2});
  REQUIRE(y.shape() == Shape{3});
  check_close(vjp_of(y, array({1.0, 2.0, 3.0}), {0})[0], {0, 3, 0, 2, 0, 1, 0}, {7});
  // Empty slice: zeros.
  array e = slice(x, {3}, {3});
  check_close(vjp_of(e, zeros({0}, float64), {0})[0], std::vector<double>(7, 0.0), {7});
  // broadcast (2,1) -> (3,2,4): sums over axes 0 and 2.
  array b = zeros({2, 1}, float64);
  array bb = broadcast_to(b, {3, 2, 4});
  check_close(vjp_of(bb, ones({3, 2, 4}, float64), {0})[0], {12, 12}, {2, 1});
  // Integer views pass zeros.
  array xi = reshape(iota({6}), {2, 3});
  check_close(vjp_of(xi, ones({2, 3}, int32), {0})[0], std::vector<double>(6, 0.0), {6});
}

TEST_CASE("grad: half precision keeps its dtype") {
  array x = array({0.0, 1.0}, {2, 1}, float16);
  array b = broadcast_to(x, {3, 2, 2});
  auto gb = vjp_of(b, ones({3, 2, 2}, float16), {0})[0];
  CHECK(gb.dtype() == float16);
  check_close(gb, {6, 6}, {2, 1});
  array e = exp(x);
  auto ge = vjp_of(e, ones_like(x), {0})[0];
  CHECK(ge.dtype() == float16);
  check_close(ge, {1, std::exp(1.0)}, {2, 1}, 1e-3, 1e-3);
}
