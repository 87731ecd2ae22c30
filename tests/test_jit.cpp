// jit: equality with eager, the signature cache, simplification statistics,
// composition with grad/jvp/vmap in both orders, misuse errors.
#include "compiler/jit/compiled.h"
#include "grad_check.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

ArrayFn one(std::function<array(const array&)> f) {
  return [f](const std::vector<array>& a) { return std::vector<array>{f(a[0])}; };
}

array mlp(const array& x, const array& w) {
  return sum(square(tanh(matmul(x, w)))) + sum(softmax(x, -1) * x);
}

}  // namespace

TEST_CASE("jit equals eager and caches by signature", "[jit]") {
  auto f = [](const std::vector<array>& a) {
    array x = a[0], y = a[1];
    return std::vector<array>{softmax(x * y + 1.0, -1), sum(exp(x) - y, 0), argmax(x, 1)};
  };
  auto jf = jit(f);
  for (int round = 0; round < 2; ++round) {
    array x = rand_like({4, 5}, 1 + round), y = rand_like({5}, 3 + round);
    auto got = jf({x, y});
    auto want = f({x, y});
    for (size_t k = 0; k < got.size(); ++k) {
      CHECK(got[k].dtype() == want[k].dtype());
      check_close(got[k], values(want[k]), want[k].shape(), 1e-12, 1e-12);
    }
  }
  CHECK(jf.cache_size() == 1);
  CHECK(jf.cache_hits() == 1);
  jf({rand_like({2, 5}, 5), rand_like({5}, 6)});  // a new shape traces again
  CHECK(jf.cache_size() == 2);
  jf({astype(rand_like({2, 5}, 5), float32), astype(rand_like({5}, 6), float32)});
  CHECK(jf.cache_size() == 3);  // and so does a new dtype
}

TEST_CASE("jit simplifies: CSE, identity removal, constant folding, dead code", "[jit]") {
  array c = rand_like({3}, 7);
  auto f = [c](const std::vector<array>& a) {
    array x = a[0];
    array unused = exp(x) * 3.0;    // not an output: never traced
    array folded = sum(c * 2.0);    // independent of x: a constant
    array same = stop_gradient(x);  // identity when executing
    return std::vector<array>{exp(x) + exp(same) + folded};
  };
  auto jf = jit(f);
  array x = rand_like({3}, 8);
  check_close(jf({x})[0], values(f({x})[0]), {3}, 1e-12, 1e-12);
  auto s = jf.stats();
  CHECK(s.cse_merged >= 1);
  CHECK(s.noops_removed >= 1);
  INFO(jf.report_json());
  CHECK(s.traced_nodes == 5);  // Exp, StopGradient, Exp, Add, Add
  CHECK(s.executed_nodes == 3);
  CHECK(s.constants >= 1);
  CHECK(s.executed_nodes < s.traced_nodes);
  auto report = jf.report_json();
  CHECK(report.find("\"kernels_per_call\"") != std::string::npos);
  CHECK(report.find("\"cse_merged\"") != std::string::npos);
}

TEST_CASE("grad of jit and jit of grad equal the eager gradient", "[jit][transforms]") {
  array x = rand_like({3, 4}, 9), w = rand_like({4, 2}, 10);
  auto loss = [](const array& x, const array& w) { return mlp(x, w); };
  array expect = std::get<0>(grad<1>(loss)(x, w));
  // grad(jit(f)): differentiate the compiled function.
  auto jloss = jit([](const std::vector<array>& a) { return std::vector<array>{mlp(a[0], a[1])}; });
  auto via_jit = grad([&](const array& wv) { return jloss({x, wv})[0]; })(w);
  check_close(via_jit, values(expect), {4, 2}, 1e-12, 1e-12);
  // jit(grad(f)): compile the backward pass.
  auto jgrad = jit([](const std::vector<array>& a) {
    return std::vector<array>{grad([&](const array& wv) { return mlp(a[0], wv); })(a[1])};
  });
  check_close(jgrad({x, w})[0], values(expect), {4, 2}, 1e-12, 1e-12);
  // Second order through jit: grad(sum(grad(jit f))).
  auto hvp = grad([&](const array& wv) {
    return sum(grad([&](const array& u) { return jloss({x, u})[0]; })(wv));
  })(w);
  auto hvp_eager = grad(
      [&](const array& wv) { return sum(grad([&](const array& u) { return mlp(x, u); })(wv)); })(w);
  check_close(hvp, values(hvp_eager), {4, 2}, 1e-10, 1e-10);
}

TEST_CASE("vjp of a jitted function: outputs and a pullback that does not rerun the forward",
          "[jit][transforms]") {
  // Two outputs, an integer argument (its cotangent is zeros), a loss that
  // needs the forward's intermediates.
  auto f = [](const std::vector<array>& a) {
    array h = tanh(matmul(a[0], a[1]));
    return std::vector<array>{sum(square(h)) + sum(softmax(a[0], -1) * a[0]),
                              h * astype(a[2], float64)};
  };
  array x = rand_like({3, 4}, 21), w = rand_like({4, 2}, 22);
  array n = astype(array({1, 2}), int32);
  auto jf = jit(f, {.name = "vjp_case"});
  JitVjp r = jf.vjp({x, w, n});
  REQUIRE(r.outputs.size() == 2);
  auto eager = f({x, w, n});
  check_close(r.outputs[0], values(eager[0]), {}, 1e-12, 1e-12);
  check_close(r.outputs[1], values(eager[1]), {3, 2}, 1e-12, 1e-12);
  // Two different cotangents through the same pullback.
  for (double scale : {1.0, -0.5}) {
    std::vector<array> cts{array(scale), rand_like({3, 2}, 23) * scale};
    auto got = r.pullback(cts);
    auto want = mfx::vjp([&](const std::vector<array>& d) { return f({d[0], d[1], n}); }, {x, w},
                         cts)
                    .second;
    REQUIRE(got.size() == 3);
    check_close(got[0], values(want[0]), {3, 4}, 1e-12, 1e-12);
    check_close(got[1], values(want[1]), {4, 2}, 1e-12, 1e-12);
    CHECK(values(got[2]) == std::vector<double>{0, 0});
  }
  // The split: the forward program has the one product of f, the backward
  // only the two of its gradients (a rerun forward would add a third).
  jit_detail::CompiledFunction cf(jit_detail::trace(f, {{3, 4}, {4, 2}, {2}},
                                                    {float64, float64, int32}, "split"),
                                  {});
  const auto& split = cf.split_vjp();
  auto products = [](const jit_detail::Graph& g) {
    int k = 0;
    for (const auto& node : g.nodes) k += node.prim->name() == "Matmul";
    return k;
  };
  CHECK(products(split.forward->traced()) == 1);
  CHECK(products(split.backward->traced()) == 2);
  CHECK(split.argnums == std::vector<int>{0, 1});
  // Only w: x's cotangent is zeros and the backward drops x's product.
  JitVjp rw = jf.vjp({x, w, n}, {1});
  std::vector<array> cts{array(1.0), rand_like({3, 2}, 24)};
  auto gw = rw.pullback(cts);
  auto want_w =
      mfx::vjp([&](const std::vector<array>& d) { return f({x, d[0], n}); }, {w}, cts).second;
  check_close(gw[1], values(want_w[0]), {4, 2}, 1e-12, 1e-12);
  CHECK(values(gw[0]) == std::vector<double>(12, 0.0));
  const auto& split_w = cf.split_vjp({1});
  CHECK(products(split_w.backward->traced()) == 1);
  CHECK(split_w.argnums == std::vector<int>{1});
  check_throws_with([&] { jf.vjp({x, w, n}, {3}); }, {"vjp_case", "argnum 3", "3 arguments"});
  // Cotangents must match the outputs.
  check_throws_with([&] { r.pullback({array(1.0)}); }, {"vjp_case", "takes 2 cotangents, got 1"});
  check_throws_with([&] { r.pullback({array(1.0), zeros({2, 3}, float64)}); },
                    {"vjp_case", "cotangent 1", "(3,2)", "(2,3)"});
}

TEST_CASE("jvp and vmap of a jitted function", "[jit][transforms]") {
  auto f = [](const array& x) { return tanh(x) * sum(x); };
  auto jf = jit(one(f));
  array x = rand_like({5}, 11), t = rand_like({5}, 12);
  auto [o1, t1] = jvp(jf, {x}, {t});
  auto [o2, t2] = jvp(one(f), {x}, {t});
  check_close(o1[0], values(o2[0]), {5}, 1e-12, 1e-12);
  check_close(t1[0], values(t2[0]), {5}, 1e-12, 1e-12);
  array xs = rand_like({3, 5}, 13);
  check_close(vmap(ArrayFn(jf), {1})({xs})[0], values(vmap(one(f), {1})({xs})[0]), {5, 3}, 1e-12,
              1e-12);
  check_close(jit(vmap(one(f), {0}))({xs})[0], values(vmap(one(f), {0})({xs})[0]), {3, 5}, 1e-12,
              1e-12);
}

TEST_CASE("jit passes integer arguments and results through; grad ignores them",
          "[jit][transforms]") {
  auto jf = jit([](const std::vector<array>& a) {
    return std::vector<array>{take(a[0], a[1], 0) * 2.0, a[1] + 1};
  });
  array x = rand_like({4}, 14), idx = array({3, 0, 0}, {3}, int32);
  auto r = jf({x, idx});
  check_close(r[1], {4, 1, 1}, {3}, 0, 0);
  auto g = grad([&](const array& v) { return sum(jf({v, idx})[0]); })(x);
  check_close(g, {4.0, 0.0, 0.0, 2.0}, {4}, 1e-12, 1e-12);
}

TEST_CASE("jit misuse gives clear errors", "[jit][errors]") {
  auto jf = jit(one([](const array& x) { return x * sum(x).item<double>(); }), {.name = "scale"});
  check_throws_with(
      [&] {
        jf({array({1.0, 2.0})});
      },
      {"[jit]", "scale", "depends on its arguments"});
  auto jg = jit(one([](const array& x) { return x; }));
  CHECK_THROWS_AS(jg.stats(), std::logic_error);
  check_throws_with([&] { jg({array()}); }, {"[jit]", "argument 0 is a null array"});
}

TEST_CASE("jit_tree compiles functions of Trees and returns structured results", "[jit]") {
  Tree params{{"w", rand_like({3, 2}, 20)}, {"b", rand_like({2}, 21)}};
  array x = rand_like({4, 3}, 22);
  auto step = [](const Tree& p, const array& x) {
    auto loss = [&](const Tree& q) {
      return mean(square(tanh(matmul(x, q["w"].leaf()) + q["b"].leaf())));
    };
    auto [value, g] = value_and_grad(loss)(p);
    Tree next = p.unflatten([&] {
      std::vector<array> out;
      auto pl = p.leaves(), gl = g.leaves();
      for (size_t i = 0; i < pl.size(); ++i) out.push_back(pl[i] - 0.1 * gl[i]);
      return out;
    }());
    return std::make_pair(next, value);
  };
  auto jstep = jit_tree(step, {.name = "sgd_step"});
  auto [p1, l1] = jstep(params, x);
  auto [p2, l2] = step(params, x);
  REQUIRE(p1.same_structure(params));
  CHECK(l1.item<double>() == Approx(l2.item<double>()).epsilon(1e-12));
  check_close(p1["w"].leaf(), values(p2["w"].leaf()), {3, 2}, 1e-12, 1e-12);
  // A second call reuses the compiled step; a different structure traces anew.
  auto [p3, l3] = jstep(p1, x);
  CHECK(l3.item<double>() < l1.item<double>());
  Tree other{{"w", params["w"].leaf()}, {"b", params["b"].leaf()}, {"extra", array(1.0)}};
  auto [p4, l4] = jstep(other, x);
  CHECK(p4.same_structure(other));
}
