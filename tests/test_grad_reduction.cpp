// vjp/jvp rules of the reduction primitives (Reduce, ArgReduce, Scan),
// checked against central differences and hand-computed values.
#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

array input(double lo, double hi, uint64_t seed, Shape shape) {
  return (rand_like(shape, seed) + 1.0) * ((hi - lo) / 2) + lo;
}

// First node named `name` reached depth-first from `y` (null if none).
array find_node(const array& y, const std::string& name) {
  if (!y.has_primitive()) return array();
  if (y.primitive().name() == name) return y;
  for (auto& in : y.inputs()) {
    array r = find_node(in, name);
    if (r.valid()) return r;
  }
  return array();
}

}  // namespace

TEST_CASE("grad: sum/prod/max/min match finite differences") {
  array x = input(-2, 2, 3, {3, 4});
  array xpos = input(0.5, 2, 4, {2, 3, 4});
  // keepdims=true so that the Reduce primitive is the top node.
  check_grads([](auto& in) { return sum(in[0], 1, true); }, {x}, "Sum");
  check_grads([](auto& in) { return sum(in[0], std::vector<int>{0, 2}, true); }, {xpos}, "Sum");
  check_grads([](auto& in) { return sum(in[0], true); }, {x}, "Sum");
  check_grads([](auto& in) { return prod(in[0], 1, true); }, {x}, "Prod");
  check_grads([](auto& in) { return prod(in[0], std::vector<int>{0, 2}, true); }, {xpos}, "Prod");
  check_grads([](auto& in) { return max(in[0], 0, true); }, {x}, "Max");
  check_grads([](auto& in) { return min(in[0], std::vector<int>{1, 2}, true); }, {xpos}, "Min");
  // Non-contiguous input: the reduction sees a transposed view.
  check_grads([](auto& in) { return sum(transpose(in[0]), 0, true); }, {x}, "Sum");
  check_grads([](auto& in) { return max(transpose(in[0]), 1, true); }, {x}, "Max");
}

TEST_CASE("grad: prod with zeros") {
  // Row products of [[2, 0, 3], [0, 0, 5], [1, 2, 4]]: the single zero gets
  // the product of the others (6), two zeros give all-zero partials.
  array x = array({2.0, 0.0, 3.0, 0.0, 0.0, 5.0, 1.0, 2.0, 4.0}, {3, 3});
  array p = prod(x, 1, true);
  auto prim = p.primitive_ptr();
  auto ins = p.inputs();
  auto t = prim->jvp(ins, {ones_like(x)}, {0})[0];
  auto g = prim->vjp(ins, {ones({3, 1}, float64)}, {0}, p.outputs())[0];
  check_close(g, {0, 6, 0, 0, 0, 0, 8, 4, 2}, {3, 3});
  // jvp with tangent 1 = sum of the partials per row.
  check_close(t, {6, 0, 14}, {3, 1});
  // Finite differences at a single zero.
  check_grads([](auto& in) { return prod(in[0], 0, true); }, {array({1.5, 0.0, -2.0, 0.5}, {4})},
              "Prod");
}

TEST_CASE("grad: max/min ties split evenly") {
  // max of [1, 3, 3, 2] = 3: the two maxima share the cotangent 4.
  array x = array({1.0, 3.0, 3.0, 2.0});
  array m = max(x, 0, true);
  auto prim = m.primitive_ptr();
  auto ins = m.inputs();
  auto t = prim->jvp(ins, {array({1.0, 2.0, 4.0, 8.0})}, {0})[0];
  auto g = prim->vjp(ins, {array({4.0})}, {0}, m.outputs())[0];
  check_close(g, {0, 2, 2, 0}, {4});
  check_close(t, {3}, {1});  // (2 + 4) / 2
  array mn = min(array({5.0, 1.0, 1.0, 1.0}, {2, 2}), 1, true);
  auto gm = mn.primitive().vjp(mn.inputs(), {array({1.0, 3.0}, {2, 1})}, {0}, mn.outputs())[0];
  check_close(gm, {0, 1, 1.5, 1.5}, {2, 2});
}

TEST_CASE("grad: reductions with non-float results or inputs give zeros") {
  array x = array({1.0, -2.0, 0.0}, {3});
  for (auto y : {all(x, 0, true), any(x, 0, true)}) {
    auto prim = y.primitive_ptr();
    auto ins = y.inputs();
    auto t = prim->jvp(ins, {ones_like(x)}, {0})[0];
    auto g = prim->vjp(ins, {zeros({1}, bool_)}, {0}, y.outputs())[0];
    CHECK(t.dtype() == bool_);
    CHECK(t.shape() == Shape{1});
    CHECK(g.dtype() == float64);
    check_close(g, {0, 0, 0}, {3});
  }
  array xi = array({1, 2, 3});
  array s = sum(xi, 0, true);
  auto gi = s.primitive().vjp(s.inputs(), {ones({1}, int32)}, {0}, s.outputs())[0];
  CHECK(gi.dtype() == int32);
  check_close(gi, {0, 0, 0}, {3});
  // argmax: zeros of the input's shape and dtype; jvp int32 zeros.
  array a = argmax(x, 0, true);
  auto prim = a.primitive_ptr();
  auto ins = a.inputs();
  auto ta = prim->jvp(ins, {ones_like(x)}, {0})[0];
  auto ga = prim->vjp(ins, {zeros({1}, int32)}, {0}, a.outputs())[0];
  CHECK(ta.dtype() == int32);
  CHECK(ta.shape() == Shape{1});
  CHECK(ga.dtype() == float64);
  check_close(ga, {0, 0, 0}, {3});
}

TEST_CASE("grad: mean's float32 sum casts the cotangent back") {
  // float16 input, float32 Sum (the mean path): cotangent returns as float16.
  array x = array({1.0, 2.0, 3.0, 4.0}, {2, 2}, float16);
  array m = mean(x, 1, true);
  // mean = astype(Sum(float32) / n, float16): find the Sum node in the graph.
  array s = find_node(m, "Sum");
  REQUIRE(s.valid());
  REQUIRE(s.dtype() == float32);
  auto g = s.primitive().vjp(s.inputs(), {array({1.0f, 2.0f}, {2, 1})}, {0}, s.outputs())[0];
  CHECK(g.dtype() == s.inputs()[0].dtype());
  check_close(g, {1, 1, 2, 2}, {2, 2});
}

TEST_CASE("grad: cumsum in all four modes") {
  array x = input(-1, 1, 5, {3, 4});
  for (bool reverse : {false, true}) {
    for (bool inclusive : {false, true}) {
      check_grads([=](auto& in) { return cumsum(in[0], 1, reverse, inclusive); }, {x}, "CumSum");
      check_grads([=](auto& in) { return cumsum(in[0], 0, reverse, inclusive); }, {x}, "CumSum");
    }
  }
  // d/dx of sum(ct * cumsum(x)) = reverse cumsum of ct: [1, 2, 3] -> [6, 5, 3].
  array c = cumsum(array({0.0, 0.0, 0.0}), 0);
  auto g = c.primitive().vjp(c.inputs(), {array({1.0, 2.0, 3.0})}, {0}, c.outputs())[0];
  check_close(g, {6, 5, 3}, {3});
  // Exclusive: y_j = sum_{i<j} x_i, so x_i gets sum_{j>i} ct_j: [5, 3, 0].
  array ce = cumsum(array({0.0, 0.0, 0.0}), 0, false, false);
  auto ge = ce.primitive().vjp(ce.inputs(), {array({1.0, 2.0, 3.0})}, {0}, ce.outputs())[0];
  check_close(ge, {5, 3, 0}, {3});
}

TEST_CASE("grad: integer cumsum and arange give no derivative") {
  array xi = array({1, 2, 3}, {3}, uint8);
  array c = cumsum(xi, 0);
  auto prim = c.primitive_ptr();
  auto ins = c.inputs();
  auto t = prim->jvp(ins, {ones_like(xi)}, {0})[0];
  auto g = prim->vjp(ins, {ones({3}, int32)}, {0}, c.outputs())[0];
  CHECK(t.dtype() == int32);
  check_close(t, {0, 0, 0}, {3});
  CHECK(g.dtype() == uint8);
  check_close(g, {0, 0, 0}, {3});
  // Arange has no inputs: an empty list of cotangents.
  array r = arange(0.0, 3.0, 1.0, float64);
  CHECK(r.primitive().vjp({}, {ones({3}, float64)}, {}, r.outputs()).empty());
}
