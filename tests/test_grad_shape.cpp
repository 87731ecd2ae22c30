// vjp/jvp rules of Concatenate and Pad against finite differences, and grad
// through stack (concatenate) and max pooling (pad with -inf).
#include "grad_check.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_grads;
using mfx::test::rand_like;

TEST_CASE("Concatenate rules match finite differences", "[grad][shape]") {
  check_grads(
      [](auto& in) {
        return concatenate({in[0], in[1], in[2]}, 1);
      },
      {rand_like({2, 3}, 1), rand_like({2, 1}, 2), rand_like({2, 4}, 3)}, "Concatenate");
  check_grads(
      [](auto& in) {
        return concatenate({in[0], in[1]}, 0);
      },
      {rand_like({1, 3}, 4), rand_like({2, 3}, 5)}, "Concatenate");
}

TEST_CASE("Pad rules match finite differences (array and padding value)", "[grad][shape]") {
  check_grads(
      [](auto& in) {
        return pad(in[0], {{1, 2}, {0, 3}}, in[1]);
      },
      {rand_like({2, 3}, 6), rand_like({}, 7)}, "Pad");
}

TEST_CASE("grad through stack and max pooling", "[grad][shape]") {
  auto f = [](const array& x) {
    return sum(stack({x, x * 2.0}, 0) * array({1.0, 3.0}, {2, 1, 1}));
  };
  // d/dx of sum([x, 2x] weighted by [1, 3]) = 1 + 6 = 7 everywhere.
  check_close(grad(f)(rand_like({2, 2}, 8)), {7, 7, 7, 7}, {2, 2}, 1e-12, 1e-12);
  array x = reshape(array({1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 9.0, 8.0, 7.0}), {1, 1, 3, 3});
  auto pool = [](const array& x) { return sum(max_pool2d(x, {2, 2}, Pair{1, 1}, Pair{1, 1})); };
  // Each output takes the max of its window; the gradient counts how often
  // every input is a window maximum (16 windows of a 4x4 output). numpy: pad
  // with -inf, count the argmax of every 2x2 window.
  array g = grad(pool)(x);
  CHECK(sum(g).item<double>() == Approx(16.0));
  check_close(g, {2, 4, 1, 0, 0, 1, 4, 2, 2}, {1, 1, 3, 3}, 1e-12, 1e-12);
}
