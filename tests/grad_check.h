// Finite-difference checks of a primitive's vjp/jvp rules, called directly
// on the primitive (no transform engine needed). Shared by the
// test_grad_<family>.cpp files.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mfx/primitive.h"
#include "mfx/transforms.h"
#include "test_utils.h"

namespace mfx::test {

using GradFn = std::function<array(const std::vector<array>&)>;

/// Deterministic pseudo-random float64 array in [-1, 1) (an LCG, so the
/// checks do not depend on mfx::random).
inline array rand_like(const Shape& shape, uint64_t seed) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = static_cast<double>(s >> 11) * 0x1.0p-53 * 2.0 - 1.0;
  }
  return array(v, shape, float64);
}

inline double dot(const array& a, const array& b) {
  auto x = values(a), y = values(b);
  REQUIRE(x.size() == y.size());
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

inline void check_all_zero(const array& a) {
  for (double v : values(a)) CHECK(v == 0.0);
}

/// The primitive node at the top of `f(inputs)`, its (unevaluated-graph)
/// inputs and a way to re-apply the same primitive to other inputs.
struct PrimitiveNode {
  std::shared_ptr<Primitive> prim;
  std::vector<array> primals;
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;

  explicit PrimitiveNode(const array& y) {
    REQUIRE(y.has_primitive());
    prim = y.primitive_ptr();
    primals = y.inputs();
    for (auto& o : y.outputs()) {
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
    }
  }
  std::vector<array> apply(const std::vector<array>& ins) const {
    auto outs = array::make_arrays(shapes, dtypes, prim, ins);
    for (auto& o : outs) o.eval();
    return outs;
  }
};

/// Checks the vjp and jvp rules of the primitive at the top of `f(inputs)`
/// against central differences (h = 1e-6) with respect to each of its
/// floating inputs, one at a time:
///   jvp(v) ≈ (f(x + h v) - f(x - h v)) / 2h,   <ct, J v> ≈ <vjp(ct), v>,
/// plus a vjp over all inputs at once (shapes/dtypes of each cotangent, zero
/// for non-floating inputs) and jvp zero for non-floating outputs. Inputs
/// should be float64. `name` is the expected primitive name.
inline void check_grads(const GradFn& f, const std::vector<array>& inputs, const std::string& name,
                        double rtol = 1e-6, double atol = 1e-6) {
  array y = f(inputs);
  INFO("primitive " << name);
  PrimitiveNode node(y);
  REQUIRE(node.prim->name() == name);
  const auto& primals = node.primals;
  for (auto& p : primals) p.eval();
  auto outs = node.apply(primals);
  const double h = 1e-6;

  std::vector<array> cts;
  for (size_t k = 0; k < outs.size(); ++k) {
    cts.push_back(is_floating(outs[k].dtype())
                      ? astype(rand_like(outs[k].shape(), 100 + k), outs[k].dtype())
                      : zeros_like(outs[k]));
  }

  // All inputs at once: every requested cotangent has the primal's shape and dtype.
  std::vector<int> all;
  for (size_t i = 0; i < primals.size(); ++i) all.push_back(static_cast<int>(i));
  auto ct_all = node.prim->vjp(primals, cts, all, outs);
  REQUIRE(ct_all.size() == primals.size());
  for (size_t i = 0; i < primals.size(); ++i) {
    INFO("input " << i);
    CHECK(ct_all[i].shape() == primals[i].shape());
    CHECK(ct_all[i].dtype() == primals[i].dtype());
    if (!is_floating(primals[i].dtype())) check_all_zero(ct_all[i]);
  }

  for (size_t i = 0; i < primals.size(); ++i) {
    if (!is_floating(primals[i].dtype())) continue;
    INFO("input " << i);
    array v = astype(rand_like(primals[i].shape(), 7 + i), primals[i].dtype());
    auto plus = primals, minus = primals;
    plus[i] = primals[i] + h * v;
    minus[i] = primals[i] - h * v;
    auto fp = node.apply(plus), fm = node.apply(minus);
    auto tangents = node.prim->jvp(primals, {v}, {static_cast<int>(i)});
    REQUIRE(tangents.size() == outs.size());
    double lhs = 0;  // <ct, J v>
    for (size_t k = 0; k < outs.size(); ++k) {
      INFO("output " << k);
      CHECK(tangents[k].shape() == outs[k].shape());
      CHECK(tangents[k].dtype() == outs[k].dtype());
      if (!is_floating(outs[k].dtype())) {
        check_all_zero(tangents[k]);
        continue;
      }
      array jv = (fp[k] - fm[k]) / (2 * h);
      check_close(tangents[k], values(jv), outs[k].shape(), rtol, atol);
      lhs += dot(cts[k], jv);
    }
    auto ct = node.prim->vjp(primals, cts, {static_cast<int>(i)}, outs);
    REQUIRE(ct.size() == 1);
    double rhs = dot(ct[0], v);
    CHECK(std::abs(lhs - rhs) <= atol + rtol * std::abs(rhs));
    check_close(ct[0], values(ct_all[i]), primals[i].shape(), 1e-12, 1e-12);
  }
}

/// Checks the transform engine on a whole function: for f(inputs) (float64
/// inputs, one floating output) and random tangents v_i, one input at a time
/// and all at once, mfx::jvp matches central differences
/// (f(x + h v) - f(x - h v)) / 2h with h = 1e-6, and mfx::vjp with a random
/// cotangent ct satisfies <ct, J v> = sum_i <vjp(ct)_i, v_i>.
inline void check_fn_grads(const GradFn& f, const std::vector<array>& inputs, double rtol = 1e-6,
                           double atol = 1e-6) {
  const double h = 1e-6;
  for (auto& x : inputs) x.eval();
  auto fn = [&](const std::vector<array>& in) -> std::vector<array> { return {f(in)}; };
  array y = f(inputs);
  y.eval();
  REQUIRE(is_floating(y.dtype()));
  array ct = astype(rand_like(y.shape(), 99), y.dtype());
  auto [outs, cts] = mfx::vjp(fn, inputs, std::vector<array>{ct});
  REQUIRE(cts.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("input " << i);
    CHECK(cts[i].shape() == inputs[i].shape());
    CHECK(cts[i].dtype() == inputs[i].dtype());
  }
  const int n = static_cast<int>(inputs.size());
  // which = -1: perturb every input at once.
  for (int which = -1; which < n; ++which) {
    INFO("tangent on input " << which << " (-1: all)");
    std::vector<array> v, plus, minus;
    double rhs = 0;
    for (int i = 0; i < n; ++i) {
      const array& x = inputs[i];
      array vi =
          which < 0 || which == i ? astype(rand_like(x.shape(), 31 + i), x.dtype()) : zeros_like(x);
      v.push_back(vi);
      plus.push_back(x + h * vi);
      minus.push_back(x - h * vi);
      rhs += dot(cts[i], vi);
    }
    auto [o, tans] = mfx::jvp(fn, inputs, v);
    REQUIRE(tans.size() == 1);
    CHECK(tans[0].shape() == y.shape());
    CHECK(tans[0].dtype() == y.dtype());
    array jv = (f(plus) - f(minus)) / (2 * h);
    check_close(tans[0], values(jv), y.shape(), rtol, atol);
    double lhs = dot(ct, jv);
    CHECK(std::abs(lhs - rhs) <= atol + rtol * std::abs(rhs));
  }
}

}  // namespace mfx::test
