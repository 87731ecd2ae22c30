// vjp/jvp rules of Matmul against finite differences, directly on the
// primitive and through grad (batch broadcasting, 1-d operands).
#include "grad_check.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_grads;
using mfx::test::rand_like;

TEST_CASE("Matmul rules match finite differences", "[grad][linalg]") {
  check_grads([](auto& in) { return matmul(in[0], in[1]); },
              {rand_like({3, 4}, 1), rand_like({4, 2}, 2)}, "Matmul");
  check_grads([](auto& in) { return matmul(in[0], in[1]); },
              {rand_like({2, 3, 4}, 3), rand_like({2, 4, 5}, 4)}, "Matmul");
}

TEST_CASE("grad through matmul with batch broadcasting and 1-d operands", "[grad][linalg]") {
  array a = rand_like({2, 3, 4}, 5);
  array b = rand_like({4, 2}, 6);
  array v = rand_like({4}, 7);
  // d/db sum(a @ b) = sum over batch and rows of a^T 1 = column sums of a, for every column of b.
  array gb = grad([&](const array& w) { return sum(matmul(a, w)); })(b);
  array colsum = sum(a, std::vector<int>{0, 1});  // (4)
  std::vector<double> expected;
  for (double c : colsum.to_vector<double>()) expected.insert(expected.end(), {c, c});
  check_close(gb, expected, {4, 2}, 1e-12, 1e-12);
  // d/dv sum(a @ v) = column sums of a as well.
  array gv = grad([&](const array& w) { return sum(matmul(a, w)); })(v);
  check_close(gv, colsum.to_vector<double>(), {4}, 1e-12, 1e-12);
}
