// vjp/jvp rules of Conv2d, checked against central differences over the
// geometry variants: stride, padding, dilation, groups, non-square kernels
// and sizes whose last stride leaves input rows unread.
#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

struct Case {
  Shape x, w;
  Pair stride, padding, dilation;
  int groups;
};

void check_conv(const Case& c, uint64_t seed) {
  INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " stride " << c.stride.first << ","
            << c.stride.second << " padding " << c.padding.first << "," << c.padding.second
            << " dilation " << c.dilation.first << "," << c.dilation.second << " groups "
            << c.groups);
  check_grads(
      [&](auto& in) { return conv2d(in[0], in[1], c.stride, c.padding, c.dilation, c.groups); },
      {rand_like(c.x, seed), rand_like(c.w, seed + 1)}, "Conv2d");
}

}  // namespace

TEST_CASE("grad: conv2d basic geometry") {
  check_conv({{2, 3, 5, 5}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1}, 1);
  check_conv({{1, 2, 6, 5}, {3, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1}, 3);
  // Non-square kernel and asymmetric padding.
  check_conv({{2, 2, 5, 6}, {3, 2, 2, 3}, {1, 1}, {1, 0}, {1, 1}, 1}, 5);
}

TEST_CASE("grad: conv2d strided with unread rows") {
  // (7 + 0 - 2 - 1) % 2 = 0 and (6 - 3 - 1) % 2 = 0.
  check_conv({{1, 2, 7, 6}, {2, 2, 3, 4}, {2, 2}, {0, 0}, {1, 1}, 1}, 7);
  // (6 - 2 - 1) % 2 = 1, (7 + 2 - 2 - 1) % 3 = 0 -> unread rows in H.
  check_conv({{2, 2, 6, 7}, {3, 2, 3, 3}, {2, 3}, {0, 1}, {1, 1}, 1}, 9);
  // (8 + 2 - 2 - 1) % 3 = 1, (5 + 2 - 1 - 1) % 2 = 1.
  check_conv({{1, 3, 8, 5}, {2, 3, 3, 2}, {3, 2}, {1, 1}, {1, 1}, 1}, 11);
  // 1x1 kernel with stride 3: up to two unread rows; padding wider than the kernel.
  check_conv({{1, 2, 8, 7}, {2, 2, 1, 1}, {3, 3}, {0, 0}, {1, 1}, 1}, 27);
  check_conv({{1, 1, 4, 4}, {1, 1, 2, 2}, {1, 2}, {2, 2}, {1, 1}, 1}, 29);
}

TEST_CASE("grad: conv2d dilation") {
  check_conv({{1, 2, 7, 7}, {2, 2, 3, 3}, {1, 1}, {0, 0}, {2, 2}, 1}, 13);
  // Dilation with stride and padding: (8 + 2 - 4 - 1) % 2 = 1, (9 + 2 - 2 - 1) % 2 = 0.
  check_conv({{2, 2, 8, 9}, {2, 2, 3, 2}, {2, 2}, {1, 1}, {2, 2}, 1}, 15);
}

TEST_CASE("grad: conv2d groups") {
  check_conv({{2, 4, 5, 5}, {6, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 2}, 17);
  check_conv({{1, 4, 7, 6}, {4, 2, 2, 3}, {2, 1}, {0, 1}, {2, 1}, 2}, 19);
  // Depthwise.
  check_conv({{2, 3, 6, 6}, {3, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 3}, 21);
}

TEST_CASE("grad: conv2d through the engine, non-contiguous input") {
  // grad of sum(conv2d(x^T, w)^2) compares with central differences on x.
  array x = rand_like({1, 2, 5, 4}, 23);
  array w = rand_like({2, 2, 3, 2}, 24);
  check_fn_grads(
      [](auto& in) {
        return square(conv2d(swapaxes(in[0], 2, 3), in[1], {2, 1}, {1, 0}, {1, 1}, 1));
      },
      {x, w});
}

TEST_CASE("grad: conv2d float32 cotangents keep the dtype") {
  array x = astype(rand_like({1, 2, 4, 4}, 25), float32);
  array w = astype(rand_like({2, 2, 3, 3}, 26), float32);
  array y = conv2d(x, w, {2, 2}, {1, 1});
  auto g = y.primitive().vjp(y.inputs(), {ones_like(y)}, {0, 1}, y.outputs());
  CHECK(g[0].dtype() == float32);
  CHECK(g[0].shape() == x.shape());
  CHECK(g[1].dtype() == float32);
  CHECK(g[1].shape() == w.shape());
}
