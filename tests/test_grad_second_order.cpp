// Second derivatives through the engine: grad-of-grad (vjp of a gradient)
// and jvp-of-grad compared with central differences of the first derivative
// (check_fn_grads applied to the gradient function), plus hand-computed
// second derivatives of elementwise ops.
#include <cmath>

#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

array uniform_in(double lo, double hi, uint64_t seed, Shape shape) {
  return (rand_like(shape, seed) + 1.0) * ((hi - lo) / 2) + lo;
}

// Gradients of sum(f(inputs)) with respect to every input, stacked.
array stacked_grads(const GradFn& f, const std::vector<array>& inputs) {
  auto fn = [&](const std::vector<array>& in) -> std::vector<array> { return {sum(f(in))}; };
  auto [outs, grads] = mfx::vjp(
      fn, inputs, [](const std::vector<array>& o) { return std::vector<array>{ones_like(o[0])}; });
  return stack(grads, 0);
}

}  // namespace

TEST_CASE("second order: matmul through tanh") {
  // f(A) = sum(tanh(A @ B) ** 2); its gradient's jvp and vjp against FD.
  array a = rand_like({3, 4}, 1), b = rand_like({4, 2}, 2);
  auto f = [](const array& x, const array& y) { return sum(square(tanh(matmul(x, y)))); };
  check_fn_grads([&](auto& in) { return grad([&](const array& x) { return f(x, b); })(in[0]); },
                 {a});
  // Gradient with respect to both operands (mixed second derivatives).
  check_fn_grads(
      [&](auto& in) {
        auto fn = [&](const std::vector<array>& p) -> std::vector<array> {
          return {f(p[0], p[1])};
        };
        auto [o, g] = mfx::vjp(fn, in, std::vector<array>{ones({}, float64)});
        return concatenate({flatten(g[0]), flatten(g[1])}, 0);
      },
      {a, b});
  // grad of grad directly: the Hessian-vector product d/dA <grad f(A), V>.
  array v = rand_like({3, 4}, 3);
  auto hv = grad(
      [&](const array& x) { return sum(grad([&](const array& z) { return f(z, b); })(x) * v); })(a);
  const double h = 1e-6;
  auto g = [&](const array& x) { return grad([&](const array& z) { return f(z, b); })(x); };
  array fd = (g(a + h * v) - g(a - h * v)) / (2 * h);  // symmetric Hessian: H v
  check_close(hv, values(fd), {3, 4}, 1e-6, 1e-6);
}

TEST_CASE("second order: elementwise ops") {
  array x = uniform_in(0.5, 2, 4, {2, 3});
  array y = uniform_in(0.5, 2, 5, {2, 3});
  std::vector<std::pair<std::string, GradFn>> fns = {
      {"exp", [](auto& in) { return exp(in[0]); }},
      {"log", [](auto& in) { return log(in[0]); }},
      {"tanh", [](auto& in) { return tanh(in[0]); }},
      {"sigmoid", [](auto& in) { return sigmoid(in[0]); }},
      {"divide", [](auto& in) { return in[0] / in[1]; }},
      {"power", [](auto& in) { return power(in[0], in[1]); }},
  };
  for (auto& [name, fn] : fns) {
    INFO(name);
    bool binary = name == "divide" || name == "power";
    std::vector<array> ins = binary ? std::vector<array>{x, y} : std::vector<array>{x};
    check_fn_grads([&](auto& in) { return stacked_grads(fn, in); }, ins);
  }
}

TEST_CASE("second order: hand-computed values") {
  // d2/dx2 at x = 0.5, 1, 2 (numpy: np.exp(x), -1/x**2, -2*np.tanh(x)*(1-np.tanh(x)**2),
  // s*(1-s)*(1-2*s) with s = 1/(1+np.exp(-x))).
  std::vector<double> xs = {0.5, 1.0, 2.0};
  array x = array(xs, {3});
  auto second = [&](std::function<array(const array&)> f) {
    return grad(
        [f](const array& z) { return sum(grad([f](const array& w) { return sum(f(w)); })(z)); })(x);
  };
  std::vector<double> e, l, t, s;
  for (double v : xs) {
    e.push_back(std::exp(v));
    l.push_back(-1 / (v * v));
    double th = std::tanh(v);
    t.push_back(-2 * th * (1 - th * th));
    double sg = 1 / (1 + std::exp(-v));
    s.push_back(sg * (1 - sg) * (1 - 2 * sg));
  }
  check_close(second([](const array& w) { return exp(w); }), e, {3}, 1e-12, 1e-12);
  check_close(second([](const array& w) { return log(w); }), l, {3}, 1e-12, 1e-12);
  check_close(second([](const array& w) { return tanh(w); }), t, {3}, 1e-12, 1e-12);
  check_close(second([](const array& w) { return sigmoid(w); }), s, {3}, 1e-12, 1e-12);
  // x ** 3: second derivative 6x; third derivative 6 (grad of grad of grad).
  check_close(second([](const array& w) { return power(w, array(3.0)); }), {3, 6, 12}, {3}, 1e-12,
              1e-12);
  auto third = grad([](const array& z) {
    return sum(grad([](const array& u) {
      return sum(grad([](const array& w) { return sum(power(w, array(3.0))); })(u));
    })(z));
  })(x);
  check_close(third, {6, 6, 6}, {3}, 1e-12, 1e-12);
  // jvp of grad for 1 / x: d/dx (-1/x^2) = 2/x^3, tangent 1.
  auto [o, tg] = mfx::jvp(
      [](const std::vector<array>& p) -> std::vector<array> {
        return {grad([](const array& w) { return sum(1.0 / w); })(p[0])};
      },
      {x}, {ones_like(x)});
  check_close(tg[0], {16, 2, 0.25}, {3}, 1e-12, 1e-12);
}
