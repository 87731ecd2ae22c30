// The transform engine: vjp, jvp, grad, value_and_grad over arrays and Trees,
// nesting, closures, evaluation inside traced functions, misuse errors.
#include <cmath>
#include <set>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

TEST_CASE("grad of a scalar function of an array", "[transforms]") {
  auto f = [](const array& x) { return sum(x * x * x); };
  array x({1.0, -2.0, 0.5});
  check_close(grad(f)(x), {3.0, 12.0, 0.75}, {3}, 1e-12, 1e-12);
  auto [value, g] = value_and_grad(f)(x);
  CHECK(value.item<double>() == Approx(1.0 - 8.0 + 0.125));
  check_close(g, {3.0, 12.0, 0.75}, {3}, 1e-12, 1e-12);
}

TEST_CASE("grad of grad (second derivative)", "[transforms]") {
  auto f = [](const array& x) { return sum(x * x * x); };
  auto df_sum = [&](const array& x) { return sum(grad(f)(x)); };  // sum(3 x^2)
  check_close(grad(df_sum)(array({1.0, -2.0})), {6.0, -12.0}, {2}, 1e-12, 1e-12);
}

TEST_CASE("gradients over a Tree keep its structure; extra arguments pass through",
          "[transforms]") {
  Tree params{{"w", array({2.0, 3.0})}, {"b", array(0.5)}};
  array x({1.0, 4.0});
  auto loss = [](const Tree& p, const array& x) {
    return sum(square(p["w"].leaf() * x + p["b"].leaf()));
  };
  Tree g = grad(loss)(params, x);
  REQUIRE(g.same_structure(params));
  // r = w*x + b = (2.5, 12.5); dL/dw = 2 r x = (5, 100); dL/db = 2 sum(r) = 30.
  check_close(g["w"].leaf(), {5.0, 100.0}, {2}, 1e-12, 1e-12);
  check_close(g["b"].leaf(), {30.0}, {}, 1e-12, 1e-12);
}

TEST_CASE("closed-over arrays are constants; unused inputs get zeros", "[transforms]") {
  array c({1.0, 2.0});
  // Only the first primal is used; c is a constant of the function.
  auto [outs, cts] = vjp([&](const std::vector<array>& p) { return std::vector<array>{p[0] * c}; },
                         {array({3.0, 4.0}), array({5.0})}, {array({1.0, 1.0})});
  check_close(outs[0], {3.0, 8.0}, {2});
  check_close(cts[0], {1.0, 2.0}, {2});
  check_close(cts[1], {0.0}, {1});
}

TEST_CASE("a primal used twice accumulates both paths", "[transforms]") {
  auto f = [](const array& x) { return sum(x * x + x); };
  check_close(grad(f)(array({1.5, -1.0})), {4.0, -1.0}, {2}, 1e-12, 1e-12);
}

TEST_CASE("reverse mode does not differentiate below stop_gradient", "[transforms]") {
  // d/dx [sum(sg(sin x) * x) + sum(sg(sin x))] = sin x: sin's own rule (cos)
  // must not run, not even against a zero cotangent.
  auto f = [](const array& x) {
    array s = stop_gradient(sin(x));
    return sum(s * x) + sum(s);
  };
  array x({0.5, -1.0, 2.0});
  array g = grad(f)(x);
  // Walk the (unevaluated) gradient graph: no Cos node.
  std::vector<array> stack{g};
  std::set<uintptr_t> seen;
  bool has_cos = false;
  while (!stack.empty()) {
    array a = stack.back();
    stack.pop_back();
    if (!seen.insert(a.id()).second || !a.has_primitive()) continue;
    has_cos |= a.primitive().name() == "Cos";
    for (auto& in : a.inputs()) stack.push_back(in);
  }
  CHECK_FALSE(has_cos);
  check_close(g, {std::sin(0.5), std::sin(-1.0), std::sin(2.0)}, {3}, 1e-12, 1e-12);
  // Only stop_gradient between the primal and the output: zeros.
  check_close(grad([](const array& y) { return sum(stop_gradient(y * y)); })(x), {0, 0, 0}, {3});
}

TEST_CASE("evaluating inside a traced function keeps the gradient", "[transforms]") {
  auto f = [](const array& x) {
    array y = exp(x);
    double m = max(y).item<double>();  // evaluates y mid-trace
    return sum(y) / m;
  };
  array x({0.0, 1.0});
  double e = std::exp(1.0);
  check_close(grad(f)(x), {1.0 / e, 1.0}, {2}, 1e-12, 1e-12);
}

TEST_CASE("jvp pushes tangents forward", "[transforms]") {
  auto [outs, tans] =
      jvp([](const std::vector<array>& p) { return std::vector<array>{sin(p[0]) * p[1]}; },
          {array({0.5, 1.0}), array({2.0, 3.0})}, {array({1.0, 0.0}), array({0.0, 1.0})});
  check_close(outs[0], {std::sin(0.5) * 2.0, std::sin(1.0) * 3.0}, {2}, 1e-12, 1e-12);
  check_close(tans[0], {std::cos(0.5) * 2.0, std::sin(1.0)}, {2}, 1e-12, 1e-12);
}

TEST_CASE("jvp of grad (forward over reverse)", "[transforms]") {
  auto f = [](const array& x) { return sum(x * x * x); };
  auto [g, hv] = jvp([&](const std::vector<array>& p) { return std::vector<array>{grad(f)(p[0])}; },
                     {array({1.0, 2.0})}, {array({1.0, 1.0})});
  check_close(hv[0], {6.0, 12.0}, {2}, 1e-12, 1e-12);
}

TEST_CASE("transform misuse gives clear errors", "[transforms][errors]") {
  auto f = [](const array& x) { return sum(x); };
  check_throws_with([&] { grad(f)(array({1, 2})); }, {"[vjp]", "int32", "(2)"});
  check_throws_with(
      [&] {
        grad([](const array& x) { return x * 2.0; })(array({1.0, 2.0}));
      },
      {"[value_and_grad]", "one-element", "(2)"});
  check_throws_with(
      [&] {
        vjp([](const std::vector<array>& p) { return std::vector<array>{p[0]}; },
            {array({1.0, 2.0})}, {array({1.0})});
      },
      {"[vjp]", "(1)", "(2)"});
  check_throws_with(
      [&] {
        jvp([](const std::vector<array>& p) { return p; }, {array({1.0, 2.0})}, {array({1.0})});
      },
      {"[jvp]", "(1)", "(2)"});
}

TEST_CASE("custom_vjp uses the user's backward", "[transforms]") {
  // Straight-through rounding: forward rounds, backward passes the cotangent.
  ArrayFn st_round =
      custom_vjp([](const std::vector<array>& p) { return std::vector<array>{round(p[0])}; },
                 [](const std::vector<array>&, const std::vector<array>&,
                    const std::vector<array>& ct) { return std::vector<array>{ct[0]}; });
  auto f = [&](const array& x) { return sum(st_round({x})[0] * 3.0); };
  array x({0.4, 1.6});
  CHECK(f(x).item<double>() == Approx(6.0));
  check_close(grad(f)(x), {3.0, 3.0}, {2}, 1e-12, 1e-12);
  // Forward mode differentiates the function itself (round has zero derivative).
  auto [o, t] = jvp(st_round, {x}, {array({1.0, 1.0})});
  check_close(t[0], {0.0, 0.0}, {2});
}

TEST_CASE("checkpoint recomputes the forward in the backward pass", "[transforms]") {
  int calls = 0;
  ArrayFn block = checkpoint([&](const std::vector<array>& p) {
    ++calls;
    return std::vector<array>{tanh(p[0] * p[1])};
  });
  auto f = [&](const array& x) { return sum(block({x, array({2.0, 3.0})})[0]); };
  auto plain = [](const array& x) { return sum(tanh(x * array({2.0, 3.0}))); };
  array x({0.1, -0.2});
  array g = grad(f)(x);
  array expected = grad(plain)(x);
  check_close(g, expected.to_vector<double>(), {2}, 1e-12, 1e-12);
  CHECK(calls >= 2);  // the shape probe, then the recomputation inside the backward
}

TEST_CASE("grad over several arguments (argnums) returns a tuple in that order", "[transforms]") {
  auto f = [](const array& a, const array& b, const Tree& t) {
    return sum(a * b) + sum(square(t["w"].leaf()) * a);
  };
  array a({1.0, 2.0}), b({3.0, -1.0});
  Tree t{{"w", array({0.5, 2.0})}};
  auto [value, g] = value_and_grad<0, 2>(f)(a, b, t);
  CHECK(value.item<double>() == Approx(1.0 + 0.25 + 8.0));
  auto [ga, gt] = g;
  check_close(ga, {3.0 + 0.25, -1.0 + 4.0}, {2}, 1e-12, 1e-12);  // b + w^2
  REQUIRE(gt.same_structure(t));
  check_close(gt["w"].leaf(), {1.0, 8.0}, {2}, 1e-12, 1e-12);  // 2 w a
  auto [gb, ga2] = grad<1, 0>(f)(a, b, t);                     // order follows the argnums
  check_close(gb, {1.0, 2.0}, {2}, 1e-12, 1e-12);
  check_close(ga2, mfx::test::values(ga), {2}, 1e-12, 1e-12);
}

TEST_CASE("auxiliary outputs pass through value_and_grad (has_aux)", "[transforms]") {
  auto f = [](const array& x) {
    array loss = sum(x * x);
    return std::make_pair(loss, Tree{{"mean", mean(x)}, {"n", array(3)}});
  };
  array x({1.0, 2.0, 3.0});
  auto [value, g] = value_and_grad(f)(x);
  auto [loss, aux] = value;
  CHECK(loss.item<double>() == Approx(14.0));
  CHECK(aux["mean"].leaf().item<double>() == Approx(2.0));
  CHECK(aux["n"].leaf().item<int32_t>() == 3);
  check_close(g, {2.0, 4.0, 6.0}, {3}, 1e-12, 1e-12);
  check_close(grad(f)(x), {2.0, 4.0, 6.0}, {3}, 1e-12, 1e-12);
}
