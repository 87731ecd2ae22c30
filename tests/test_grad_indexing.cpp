// vjp/jvp rules of the indexing primitives (Gather, GatherAxis, Scatter,
// ScatterAdd, Sort, ArgSort, TopK), checked against central differences and
// hand-computed values.
#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

// The rule's cotangent for input `arg` of the primitive at the top of `y`.
array vjp_of(const array& y, const array& ct, int arg) {
  return y.primitive().vjp(y.inputs(), {ct}, {arg}, y.outputs())[0];
}

}  // namespace

TEST_CASE("grad: take matches finite differences") {
  array a = rand_like({4, 3}, 1);
  array idx = array({2, -1, 0, 2, 3}, {5});  // duplicates and a negative index
  check_grads([&](auto& in) { return take(in[0], idx, 0); }, {a}, "Gather");
  array idx2 = array({1, 1, -3, 0}, {2, 2});
  check_grads([&](auto& in) { return take(in[0], idx2, 1); }, {a}, "Gather");
  array b = rand_like({2, 5, 3}, 2);
  check_grads(
      [&](auto& in) {
        return take(in[0], array({4, -5, 4}, {3}, int64), 1);
      },
      {b}, "Gather");
  check_grads([&](auto& in) { return take(in[0], array(int32_t{-2}), 2); }, {b}, "Gather");
  // A transposed input.
  check_grads([&](auto& in) { return take(transpose(in[0]), idx2, 0); }, {a}, "Gather");
}

TEST_CASE("grad: take sums the cotangent of duplicates") {
  array a = array({10.0, 20.0, 30.0});
  array y = take(a, array({2, 0, 2, -1}), 0);
  check_close(vjp_of(y, array({1.0, 2.0, 4.0, 8.0}), 0), {2, 0, 13}, {3});
  auto g = vjp_of(y, array({1.0, 2.0, 4.0, 8.0}), 1);
  CHECK(g.dtype() == int32);
  check_all_zero(g);
  auto t = y.primitive().jvp(y.inputs(), {array({1.0, 2.0, 3.0})}, {0})[0];
  check_close(t, {3, 1, 3, 3}, {4});
}

TEST_CASE("grad: take_along_axis matches finite differences") {
  array a = rand_like({3, 4}, 3);
  array idx = array({0, 3, -1, 1, 1, 1, 2, -4, 0}, {3, 3});
  check_grads([&](auto& in) { return take_along_axis(in[0], idx, 1); }, {a}, "GatherAxis");
  array idx0 = array({2, 0, 1, 1, -1, 0, 0, 2}, {2, 4});
  check_grads([&](auto& in) { return take_along_axis(in[0], idx0, 0); }, {a}, "GatherAxis");
  // Broadcast array: a [1, 4] against indices [3, 2]; the cotangent sums
  // over the broadcast axis (through the Broadcast node's own rule).
  array a1 = rand_like({1, 4}, 4);
  array y = take_along_axis(a1, array({0, 3, 3, 3, 1, 0}, {3, 2}), 1);
  array g = vjp_of(y, ones({3, 2}, float64), 0);
  CHECK(g.shape() == Shape{3, 4});  // the broadcast primal's shape
  check_close(g, {1, 0, 0, 1, 0, 0, 0, 2, 1, 1, 0, 0}, {3, 4});
}

TEST_CASE("grad: scatter_add matches finite differences") {
  array a = rand_like({4, 3}, 5);
  array u = rand_like({5, 3}, 6);
  array idx = array({1, -1, 1, 0, 3, 3, 2, 0, 0, 1, 1, 1, -4, 2, 2}, {5, 3});
  check_grads([&](auto& in) { return scatter_add(in[0], idx, in[1], 0); }, {a, u}, "ScatterAdd");
  array u1 = rand_like({4, 2}, 7);
  array idx1 = array({2, 2, 0, -1, 1, 1, 0, 0}, {4, 2});
  check_grads([&](auto& in) { return scatter_add(in[0], idx1, in[1], 1); }, {a, u1}, "ScatterAdd");
  // Broadcast indices [1, 3] and updates [3].
  check_grads(
      [&](auto& in) {
        return scatter_add(in[0], array({0, 2, 0}, {1, 3}), in[1], 0);
      },
      {a, rand_like({3}, 8)}, "ScatterAdd");
}

TEST_CASE("grad: scatter gives the cotangent to the last duplicate") {
  array a = rand_like({4, 3}, 9);
  array u = rand_like({5, 3}, 10);
  array idx = array({1, -1, 1, 0, 3, 3, 2, 0, 0, 1, 1, 1, -4, 2, 2}, {5, 3});
  check_grads([&](auto& in) { return scatter(in[0], idx, in[1], 0); }, {a, u}, "Scatter");
  array u1 = rand_like({4, 2}, 11);
  array idx1 = array({2, 2, 0, -1, 1, 1, 0, 0}, {4, 2});
  check_grads([&](auto& in) { return scatter(in[0], idx1, in[1], 1); }, {a, u1}, "Scatter");
  check_grads([&](auto& in) { return scatter(transpose(in[0]), idx1, in[1], 1); },
              {rand_like({3, 4}, 12), u1}, "Scatter");

  // a = [0, 0, 0, 0], writes to 1, 3, 1, -1: position 1 is won by update 2,
  // position 3 by update 3 (-1); a keeps its cotangent at 0 and 2 only.
  array y = scatter(zeros({4}, float64), array({1, 3, 1, -1}), array({1.0, 2.0, 3.0, 4.0}), 0);
  array ct = array({1.0, 2.0, 4.0, 8.0});
  check_close(vjp_of(y, ct, 0), {1, 0, 4, 0}, {4});
  check_close(vjp_of(y, ct, 2), {0, 0, 2, 8}, {4});
  auto gi = vjp_of(y, ct, 1);
  CHECK(gi.dtype() == int32);
  check_all_zero(gi);
}

TEST_CASE("grad: scatter of integers gives zeros") {
  array a = array({1, 2, 3});
  array y = scatter_add(a, array({0, 0}), array({5, 6}), 0);
  for (int arg : {0, 2}) {
    auto g = vjp_of(y, ones({3}, int32), arg);
    CHECK(g.dtype() == int32);
    check_all_zero(g);
  }
  auto t = y.primitive().jvp(y.inputs(), {ones({3}, int32)}, {0})[0];
  CHECK(t.dtype() == int32);
  CHECK(t.shape() == Shape{3});
  check_all_zero(t);
}

TEST_CASE("grad: sort matches finite differences") {
  array a = rand_like({3, 5}, 13);
  check_grads([](auto& in) { return sort(in[0], 1); }, {a}, "Sort");
  check_grads([](auto& in) { return sort(in[0], 0); }, {a}, "Sort");
  check_grads([](auto& in) { return sort(transpose(in[0]), -1); }, {a}, "Sort");
  // sort([3, 1, 2]) = [1, 2, 3]: the cotangent of rank r goes to its source.
  array y = sort(array({3.0, 1.0, 2.0}), 0);
  check_close(vjp_of(y, array({1.0, 2.0, 4.0}), 0), {4, 1, 2}, {3});
}

TEST_CASE("grad: argsort gives zeros") {
  array a = rand_like({2, 4}, 14);
  check_grads([](auto& in) { return argsort(in[0], 1); }, {a}, "ArgSort");
  array y = argsort(a, 0);
  auto g = vjp_of(y, zeros({2, 4}, int32), 0);
  CHECK(g.dtype() == float64);
  check_all_zero(g);
}

TEST_CASE("grad: topk values match finite differences") {
  array a = rand_like({3, 6}, 15);
  check_grads([](auto& in) { return topk(in[0], 3, 1).first; }, {a}, "TopK");
  check_grads([](auto& in) { return topk(in[0], 2, 0).first; }, {a}, "TopK");
  check_grads([](auto& in) { return topk(transpose(in[0]), 1, 0).first; }, {a}, "TopK");
  // topk([1, 5, 3], 2) = ([5, 3], [1, 2]).
  array y = topk(array({1.0, 5.0, 3.0}), 2).first;
  auto g =
      y.primitive().vjp(y.inputs(), {array({1.0, 2.0}), zeros({2}, int32)}, {0}, y.outputs())[0];
  check_close(g, {0, 1, 2}, {3});
}

TEST_CASE("grad: indexing through the engine") {
  // d/da sum(take(a, [0, 0, 2]) * w) and d/du of scatter through grad.
  array a = array({1.0, 2.0, 3.0});
  auto g = grad([](const array& x) {
    return sum(take(x, array({0, 0, 2}), 0) * array({1.0, 2.0, 3.0}));
  })(a);
  check_close(g, {3, 0, 3}, {3});
  auto gs = grad([](const array& x) {
    return sum(sort(x, 0) * array({1.0, 10.0, 100.0}));
  })(array({2.0, 3.0, 1.0}));
  check_close(gs, {10, 100, 1}, {3});
  // Only the values output of topk is kept alive (the indices node is gone).
  auto gt = grad([](const array& x) {
    return sum(topk(x, 2, 0).first * array({1.0, 10.0}));
  })(array({1.0, 5.0, 3.0}));
  check_close(gt, {0, 1, 10}, {3});
}
