// vmap: every primitive batched against per-slice application, in_axes 0,
// non-zero and unmapped, out_axes, nesting, composition with grad, errors.
#include "vmap_check.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::check_vmap;
using mfx::test::rand_like;

namespace {

ArrayFn unary(std::function<array(const array&)> f) {
  return [f](const std::vector<array>& a) { return std::vector<array>{f(a[0])}; };
}
ArrayFn binary(std::function<array(const array&, const array&)> f) {
  return [f](const std::vector<array>& a) { return std::vector<array>{f(a[0], a[1])}; };
}

// Checks a one-argument function for batch axes 0, 1 and -1 of x.
void check_axes(const std::function<array(const array&)>& f, const array& x) {
  for (int ax : {0, 1, -1}) {
    INFO("in_axis " << ax);
    check_vmap(unary(f), {x}, {ax});
  }
}

}  // namespace

TEST_CASE("vmap of elementwise ops for mapped axes 0, 1, -1", "[vmap]") {
  array x = rand_like({4, 3, 5}, 1);
  std::vector<std::function<array(const array&)>> fns = {
      [](const array& a) { return exp(a); },
      [](const array& a) { return tanh(a) * 2.0 - a; },
      [](const array& a) { return astype(a > 0.0, float32); },
      [](const array& a) { return isnan(log(a)); },
      [](const array& a) { return stop_gradient(a) + 1.0; },
      [](const array& a) { return where(a > 0.0, a, square(a)); },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    INFO("function " << i);
    check_axes(fns[i], x);
  }
}

TEST_CASE("vmap of binary ops: broadcasting, mixed axes, unmapped operands", "[vmap]") {
  array a = rand_like({3, 4}, 2), b = rand_like({4, 3}, 3), c = rand_like({4}, 4);
  auto f = binary([](const array& x, const array& y) { return x * y + maximum(x, y); });
  check_vmap(f, {a, a}, {0, 0});
  check_vmap(f, {a, b}, {0, 1});   // the batch axes differ
  check_vmap(f, {a, c}, {0, {}});  // y is shared by every slice
  check_vmap(f, {c, b}, {{}, 1});  // x shared, y mapped along axis 1
  // Broadcasting inside f: slices [4] against a [2, 1] constant.
  array k = rand_like({2, 1}, 5);
  check_vmap(unary([k](const array& x) { return x - k; }), {a}, {0});
  check_vmap(unary([k](const array& x) { return power(k * k + 1.0, x); }), {b}, {1});
}

TEST_CASE("vmap of reductions, arg-reductions and scans over several axes", "[vmap]") {
  array x = rand_like({3, 4, 5}, 6);
  check_axes([](const array& a) { return sum(a, std::vector<int>{0, 1}); }, x);
  check_axes([](const array& a) { return max(a, 1, true); }, x);
  check_axes([](const array& a) { return min(a, std::vector<int>{-1}); }, x);
  check_axes([](const array& a) { return prod(a, 0); }, x);
  check_axes([](const array& a) { return mean(a); }, x);
  check_axes([](const array& a) { return argmax(a, 1); }, x);
  check_axes([](const array& a) { return argmin(a, 0, true); }, x);
  check_axes([](const array& a) { return cumsum(a, 1, true, false); }, x);
  check_axes([](const array& a) { return softmax(a, -1); }, x);
  check_axes([](const array& a) { return logsumexp(a, std::vector<int>{0}); }, x);
  check_axes([](const array& a) { return any(a > 0.5, 1); }, x);
}

TEST_CASE("vmap of shape and view ops", "[vmap]") {
  array x = rand_like({2, 3, 4}, 7);
  check_axes([](const array& a) { return reshape(a, {-1}); }, x);
  check_axes([](const array& a) { return transpose(a); }, x);
  check_axes([](const array& a) { return broadcast_to(a, {5, a.shape()[0], a.shape()[1]}); }, x);
  check_axes([](const array& a) { return slice(a, {1, 0}, {2, 4}, {1, 2}); }, x);
  check_axes([](const array& a) { return flip(a, {0}); }, x);
  check_axes([](const array& a) { return expand_dims(a, 1); }, x);
  check_axes([](const array& a) { return concatenate({a, a * 2.0}, 1); }, x);
  check_axes([](const array& a) { return pad(a, {{1, 0}, {0, 2}}, array(3.0)); }, x);
  check_axes([](const array& a) { return split(a, std::vector<int64_t>{1}, -1)[1]; }, x);
  // Concatenating a mapped and a shared operand.
  check_vmap(binary([](const array& a, const array& b) {
               return concatenate({a, b}, 0);
             }),
             {x, rand_like({3, 4}, 30)}, {1, {}});
  // A per-element padding value.
  check_vmap(binary([](const array& a, const array& v) {
               return pad(a, {{1, 1}}, v);
             }),
             {rand_like({3, 2}, 9), rand_like({2}, 31)}, {1, 0});
}

TEST_CASE("vmap of matmul: either or both operands mapped, at any axis", "[vmap]") {
  array a = rand_like({5, 3, 4}, 10), b = rand_like({5, 4, 2}, 11);
  array w = rand_like({4, 2}, 12), v = rand_like({3, 4}, 13);
  auto mm = binary([](const array& x, const array& y) { return matmul(x, y); });
  check_vmap(mm, {a, b}, {0, 0});
  check_vmap(mm, {a, w}, {0, {}});  // folded into one GEMM
  check_vmap(mm, {a, w}, {1, {}});  // batch axis in the middle
  check_vmap(mm, {v, b}, {{}, 0});
  check_vmap(mm, {a, moveaxis(b, 0, 2)}, {0, 2});
  // Vector operands (1-d slices).
  check_vmap(mm, {rand_like({5, 4}, 14), w}, {0, {}});
  check_vmap(mm, {v, rand_like({4, 5}, 15)}, {{}, 1});
}

TEST_CASE("vmap of gathers, scatters, sorting and top-k", "[vmap]") {
  array x = rand_like({3, 6}, 16);
  array idx = array({2, -1, 0, 2}, {4}, int32);
  array idx_b = array({0, 1, 5, 5, 2, 3, 4, 0, 1, 1, 1, 2}, {3, 4}, int32);
  check_vmap(binary([](const array& a, const array& i) { return take(a, i, 0); }), {x, idx},
             {0, {}});
  check_vmap(binary([](const array& a, const array& i) { return take(a, i, 0); }), {x, idx_b},
             {0, 0});
  check_vmap(binary([](const array& a, const array& i) { return take(a, i, 0); }),
             {rand_like({6, 2}, 17), idx_b}, {{}, 0});
  check_vmap(binary([](const array& a, const array& i) { return take_along_axis(a, i, 0); }),
             {x, idx_b}, {0, 0});
  check_vmap(binary([](const array& a, const array& i) {
               return scatter_add(a, i, astype(ones_like(i), a.dtype()), 0);
             }),
             {x, idx_b}, {0, 0});
  check_vmap(
      binary([](const array& a, const array& i) { return scatter(a, i, -ones({4}, float64), 0); }),
      {x, idx}, {1, {}});
  check_axes([](const array& a) { return sort(a, 0); }, x);
  check_axes([](const array& a) { return argsort(a, -1); }, x);
  check_vmap(unary([](const array& a) { return topk(a, 2, 0).first; }), {x}, {0});
  check_vmap(unary([](const array& a) { return topk(a, 2, 0).second; }), {x}, {1});
}

TEST_CASE("vmap of conv2d, pooling, interpolation and normalisation", "[vmap]") {
  array x = rand_like({2, 1, 3, 5, 5}, 18);  // [batch, N, C, H, W]
  array w = rand_like({4, 3, 3, 3}, 19);
  array wb = rand_like({2, 4, 3, 3, 3}, 20);
  auto conv = binary([](const array& a, const array& k) { return conv2d(a, k, {1, 1}, {1, 1}); });
  check_vmap(conv, {x, w}, {0, {}});
  check_vmap(conv, {x, wb}, {0, 0});
  check_vmap(conv, {take(x, array(0), 0), wb}, {{}, 0});
  // The weight gradient: batched input, cotangent or both (groups fold the batch).
  array ct = rand_like({2, 1, 4, 3, 3}, 22);
  auto wgrad = binary([](const array& a, const array& c) {
    return conv2d_weight_grad(a, c, {3, 3}, {1, 1}, {0, 0}, {1, 1}, 1);
  });
  check_vmap(wgrad, {x, ct}, {0, 0});
  check_vmap(wgrad, {take(x, array(0), 0), ct}, {{}, 0});
  check_vmap(wgrad, {x, take(ct, array(1), 0)}, {0, {}});
  // The input gradient: batched cotangent, weights or both.
  auto igrad = binary([](const array& c, const array& k) {
    return conv2d_input_grad(c, k, {5, 5}, {1, 1}, {0, 0}, {1, 1}, 1);
  });
  array wb4 = rand_like({2, 4, 3, 3, 3}, 23);
  check_vmap(igrad, {ct, take(wb4, array(0), 0)}, {0, {}});
  check_vmap(igrad, {ct, wb4}, {0, 0});
  check_vmap(igrad, {take(ct, array(1), 0), wb4}, {{}, 0});
  check_axes([](const array& a) { return max_pool2d(a, {2, 2}); }, rand_like({1, 2, 4, 4}, 21));
  check_vmap(unary([](const array& a) {
               return interpolate(a, {7, 3}, InterpolateMode::bilinear);
             }),
             {x}, {0});
  check_vmap(unary([](const array& a) { return layer_norm(a, std::nullopt, std::nullopt); }), {x},
             {2});
  check_vmap(unary([](const array& a) { return group_norm(a, 3, std::nullopt, std::nullopt); }),
             {x}, {0});
}

TEST_CASE("vmap over random keys gives each key its own numbers", "[vmap]") {
  array keys = random::split(random::key(3), 4);  // [4, 2]
  check_vmap(unary([](const array& k) { return random::uniform(k, {3}); }), {keys}, {0});
  check_vmap(unary([](const array& k) {
               return random::normal(k, {2, 2}, 0.0, 1.0, float64);
             }),
             {keys}, {0});
}

TEST_CASE("vmap out_axes, unmapped results and several results", "[vmap]") {
  array x = rand_like({4, 3}, 22), c = rand_like({3}, 23);
  ArrayFn f = [c](const std::vector<array>& a) {
    return std::vector<array>{a[0] * 2.0, sum(a[0]), c + 1.0};
  };
  check_vmap(f, {x}, {0}, {1, 0, 0});
  auto res = vmap(f, {0}, {-1, 0, {}})({x});
  CHECK(res[0].shape() == Shape{3, 4});
  CHECK(res[2].shape() == Shape{3});  // not mapped: f's own result
  check_close(res[2], mfx::test::values(c + 1.0), {3}, 1e-15, 1e-15);
  // A mapped result that does not depend on the mapped argument is broadcast.
  auto bc = vmap(f, {0}, {0, 0, 1})({x});
  CHECK(bc[2].shape() == Shape{3, 4});
  // The single-array overload.
  auto g = vmap([](const array& a) { return sum(a * a); }, 1);
  check_close(g(x), mfx::test::values(sum(x * x, 0)), {3}, 1e-12, 1e-12);
}

TEST_CASE("nested vmap equals a double loop", "[vmap]") {
  array x = rand_like({2, 3, 4}, 24), w = rand_like({4, 5}, 25);
  auto inner = vmap([w](const array& r) { return tanh(matmul(r, w)); }, 0);
  auto outer = vmap([inner](const array& m) { return inner(m); }, 1);
  array got = outer(x);  // batch axes: outer over axis 1 of x, inner over axis 0 of the slice
  REQUIRE(got.shape() == Shape{3, 2, 5});
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 2; ++j) {
      array row = take(take(x, array(j), 0), array(i), 0);
      check_close(take(take(got, array(i), 0), array(j), 0),
                  mfx::test::values(tanh(matmul(row, w))), {5}, 1e-12, 1e-12);
    }
  }
}

TEST_CASE("vmap of grad gives per-example gradients; grad of vmap sums them",
          "[vmap][transforms]") {
  array w = rand_like({3}, 26), xs = rand_like({5, 3}, 27);
  auto loss = [](const array& w, const array& x) { return sum(square(tanh(w * x))); };
  // Per-example gradients w.r.t. x.
  auto per_example =
      vmap([&](const array& x) { return grad([&](const array& v) { return loss(w, v); })(x); }, 0);
  array pe = per_example(xs);
  REQUIRE(pe.shape() == Shape{5, 3});
  for (int i = 0; i < 5; ++i) {
    array xi = take(xs, array(i), 0);
    array gi = grad([&](const array& v) { return loss(w, v); })(xi);
    check_close(take(pe, array(i), 0), mfx::test::values(gi), {3}, 1e-12, 1e-12);
  }
  // grad of (sum over the vmapped losses) = sum of per-example gradients w.r.t. w.
  auto total = [&](const array& wv) {
    return sum(vmap([&](const array& x) { return loss(wv, x); }, 0)(xs));
  };
  array gw = grad(total)(w);
  array expect = zeros({3}, float64);
  for (int i = 0; i < 5; ++i) {
    expect = expect + grad([&](const array& v) { return loss(v, take(xs, array(i), 0)); })(w);
  }
  check_close(gw, mfx::test::values(expect), {3}, 1e-12, 1e-12);
  // jvp through vmap.
  auto [outs, tans] =
      jvp(vmap(unary([](const array& a) { return sin(a); }), {0}), {xs}, {ones_like(xs)});
  check_close(tans[0], mfx::test::values(cos(xs)), {5, 3}, 1e-12, 1e-12);
}

TEST_CASE("vmap misuse gives clear errors", "[vmap][errors]") {
  array x = rand_like({4, 3}, 28), y = rand_like({5, 3}, 29);
  auto id = binary([](const array& a, const array& b) { return a + b; });
  check_throws_with([&] { vmap(id, {0, 0})({x, y}); }, {"[vmap]", "batch size", "(5,3)"});
  check_throws_with([&] { vmap(id, {2, 0})({x, x}); }, {"[vmap]", "in_axes[0] = 2", "(4,3)"});
  check_throws_with([&] { vmap(id, {0})({x, x}); }, {"[vmap]", "in_axes has 1 entries for 2"});
  check_throws_with(
      [&] {
        vmap(id, {std::nullopt, std::nullopt})({x, x});
      },
      {"[vmap]", "maps no argument"});
  check_throws_with(
      [&] {
        vmap(id, {0, 0}, {std::nullopt})({x, x});
      },
      {"[vmap]", "out_axes[0] is std::nullopt"});
  check_throws_with([&] { vmap(id, {0, 0}, {3})({x, x}); }, {"[vmap]", "out_axes[0] = 3"});
}
