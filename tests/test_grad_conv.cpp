// vjp/jvp rules of Conv2d, checked against central differences over the
// geometry variants: stride, padding, dilation, groups, non-square kernels
// and sizes whose last stride leaves input rows unread. Conv2dInputGrad and
// Conv2dWeightGrad (the gradients' own primitives) against direct sums, and
// their own rules (second derivatives of conv2d).
#include "grad_check.h"
#include "mfx/nn.h"

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

namespace {

// Calls fn(ct index, x index, w index) for every output position, weight
// tap and input pixel the convolution of case `c` multiplies together
// (output [n, O, ho, wo]; taps that land in the padding are skipped), in
// the order n, o, y, z, j, a, b.
template <typename Fn>
void for_each_tap(const Case& c, int64_t ho, int64_t wo, Fn fn) {
  const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], wd = c.x[3];
  const int64_t o = c.w[0], cg = c.w[1], kh = c.w[2], kw = c.w[3], og = o / c.groups;
  for (int64_t ni = 0; ni < n; ++ni)
    for (int64_t oi = 0; oi < o; ++oi)
      for (int64_t y = 0; y < ho; ++y)
        for (int64_t z = 0; z < wo; ++z)
          for (int64_t j = 0; j < cg; ++j)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t b = 0; b < kw; ++b) {
                const int64_t iy = y * c.stride.first - c.padding.first + a * c.dilation.first;
                const int64_t iz = z * c.stride.second - c.padding.second + b * c.dilation.second;
                if (iy < 0 || iy >= h || iz < 0 || iz >= wd) continue;
                const int64_t ci = (oi / og) * cg + j;
                fn(static_cast<size_t>(((ni * o + oi) * ho + y) * wo + z),
                   static_cast<size_t>(((ni * ch + ci) * h + iy) * wd + iz),
                   static_cast<size_t>(((oi * cg + j) * kh + a) * kw + b));
              }
}

// dW[o, j, a, b] = sum_{n,y,z} ct[n, o, y, z] x[n, g(o) C/g + j, y sh - ph + a dh, z sw - pw + b dw],
// summed directly in float64.
std::vector<double> weight_grad_by_sum(const array& x, const array& ct, const Case& c) {
  const auto xv = values(x), cv = values(ct);
  std::vector<double> dw(static_cast<size_t>(c.w[0] * c.w[1] * c.w[2] * c.w[3]), 0.0);
  for_each_tap(c, ct.shape()[2], ct.shape()[3],
               [&](size_t yi, size_t xi, size_t wi) { dw[wi] += cv[yi] * xv[xi]; });
  return dw;
}

const std::vector<Case> kWeightGradCases = {
    {{2, 3, 5, 5}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1},
    {{2, 2, 6, 7}, {3, 2, 3, 3}, {2, 3}, {0, 1}, {1, 1}, 1},  // unread rows
    {{2, 2, 8, 9}, {2, 2, 3, 2}, {2, 2}, {1, 1}, {2, 2}, 1},  // dilation
    {{2, 4, 5, 5}, {6, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 2},  // groups
    {{2, 3, 6, 6}, {3, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 3},  // depthwise
    {{3, 4, 4, 5}, {2, 4, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},  // 1x1: the plane as columns
    {{1, 2, 9, 9}, {2, 2, 9, 9}, {1, 1}, {0, 0}, {1, 1}, 1},  // kernel = input, 1x1 output
};

array conv_output_like(const Case& c, uint64_t seed) {
  array y = conv2d(rand_like(c.x, 1), rand_like(c.w, 2), c.stride, c.padding, c.dilation, c.groups);
  return rand_like(y.shape(), seed);
}

}  // namespace

TEST_CASE("conv2d_weight_grad equals the correlation sum, and is conv2d's weight vjp") {
  uint64_t seed = 40;
  for (const Case& c : kWeightGradCases) {
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups " << c.groups);
    array x = rand_like(c.x, seed++), ct = conv_output_like(c, seed++);
    const Pair kernel{c.w[2], c.w[3]};
    array dw = conv2d_weight_grad(x, ct, kernel, c.stride, c.padding, c.dilation, c.groups);
    REQUIRE(dw.shape() == c.w);
    CHECK(dw.primitive().name() == "Conv2dWeightGrad");
    const auto want = weight_grad_by_sum(x, ct, c);
    check_close(dw, want, c.w, 1e-12, 1e-12);
    // float32 through the BLAS kernels, and float16 accumulated in float32.
    array dw32 = conv2d_weight_grad(astype(x, float32), astype(ct, float32), kernel, c.stride,
                                    c.padding, c.dilation, c.groups);
    CHECK(dw32.dtype() == float32);
    check_close(dw32, want, c.w, 1e-4, 1e-4);
    array dw16 = conv2d_weight_grad(astype(x, float16), astype(ct, float16), kernel, c.stride,
                                    c.padding, c.dilation, c.groups);
    CHECK(dw16.dtype() == float16);
    check_close(dw16, want, c.w, 2e-2, 2e-2);
    // The graph conv2d's vjp builds.
    array w = rand_like(c.w, seed++);
    array y = conv2d(x, w, c.stride, c.padding, c.dilation, c.groups);
    auto g = y.primitive().vjp(y.inputs(), {ct}, {1}, y.outputs());
    CHECK(g[0].primitive().name() == "Conv2dWeightGrad");
    check_close(g[0], want, c.w, 1e-12, 1e-12);
  }
}

TEST_CASE("grad: Conv2dWeightGrad rules (second derivatives of conv2d)") {
  uint64_t seed = 60;
  for (const Case& c : kWeightGradCases) {
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups " << c.groups);
    check_grads(
        [&](auto& in) {
          return conv2d_weight_grad(in[0], in[1], {c.w[2], c.w[3]}, c.stride, c.padding,
                                    c.dilation, c.groups);
        },
        {rand_like(c.x, seed), conv_output_like(c, seed + 1)}, "Conv2dWeightGrad");
    seed += 2;
  }
}

TEST_CASE("conv2d_weight_grad refuses a cotangent that is not the convolution's output") {
  array x = rand_like({2, 3, 5, 5}, 1);
  auto call = [&](Shape ct, Pair kernel, int groups) {
    return [=] {
      conv2d_weight_grad(x, rand_like(ct, 2), kernel, {1, 1}, {0, 0}, {1, 1}, groups);
    };
  };
  check_throws_with(call({2, 4, 4, 4}, {3, 3}, 1),
                    {"[conv2d_weight_grad] cotangent (2,4,4,4)", "input (2,3,5,5)", "kernel (3,3)"});
  check_throws_with(call({1, 4, 3, 3}, {3, 3}, 1), {"[conv2d_weight_grad] cotangent (1,4,3,3)"});
  check_throws_with(call({2, 4, 3, 3}, {3, 3}, 2), {"[conv2d_weight_grad]", "groups=2"});
  check_throws_with(call({2, 4, 3, 3}, {0, 3}, 1), {"[conv2d_weight_grad] kernel must be >= 1"});
  check_throws_with(
      [&] {
        conv2d_weight_grad(rand_like({2, 3, 5}, 1), rand_like({2, 4, 3, 3}, 2), {3, 3}, {1, 1},
                           {0, 0}, {1, 1}, 1);
      },
      {"[conv2d_weight_grad] expected floating input [N,C,H,W]", "(2,3,5)"});
}

namespace {

// dx[n, g C/g + j, y sh - ph + a dh, z sw - pw + b dw] += ct[n, o, y, z] w[o, j, a, b]
// (o in group g), summed directly in float64.
std::vector<double> input_grad_by_sum(const array& ct, const array& w, const Case& c) {
  const auto cv = values(ct), wv = values(w);
  std::vector<double> dx(static_cast<size_t>(c.x[0] * c.x[1] * c.x[2] * c.x[3]), 0.0);
  for_each_tap(c, ct.shape()[2], ct.shape()[3],
               [&](size_t yi, size_t xi, size_t wi) { dx[xi] += cv[yi] * wv[wi]; });
  return dx;
}

}  // namespace

TEST_CASE("conv2d_input_grad equals the scatter sum, and is conv2d's input vjp") {
  uint64_t seed = 80;
  std::vector<Case> cases = kWeightGradCases;
  // Padding beyond the dilated kernel (border outputs read only padding).
  cases.push_back({{2, 2, 7, 6}, {3, 2, 1, 2}, {2, 3}, {1, 2}, {1, 1}, 1});
  for (const Case& c : cases) {
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups " << c.groups);
    array w = rand_like(c.w, seed++), ct = conv_output_like(c, seed++);
    const Pair size{c.x[2], c.x[3]};
    array dx = conv2d_input_grad(ct, w, size, c.stride, c.padding, c.dilation, c.groups);
    REQUIRE(dx.shape() == c.x);
    CHECK(dx.primitive().name() == "Conv2dInputGrad");
    const auto want = input_grad_by_sum(ct, w, c);
    check_close(dx, want, c.x, 1e-12, 1e-12);
    array dx32 = conv2d_input_grad(astype(ct, float32), astype(w, float32), size, c.stride,
                                   c.padding, c.dilation, c.groups);
    CHECK(dx32.dtype() == float32);
    check_close(dx32, want, c.x, 1e-4, 1e-4);
    array dx16 = conv2d_input_grad(astype(ct, bfloat16), astype(w, bfloat16), size, c.stride,
                                   c.padding, c.dilation, c.groups);
    CHECK(dx16.dtype() == bfloat16);
    check_close(dx16, want, c.x, 5e-2, 5e-2);
    array x = rand_like(c.x, seed++);
    array y = conv2d(x, w, c.stride, c.padding, c.dilation, c.groups);
    auto g = y.primitive().vjp(y.inputs(), {ct}, {0}, y.outputs());
    CHECK(g[0].primitive().name() == "Conv2dInputGrad");
    check_close(g[0], want, c.x, 1e-12, 1e-12);
  }
}

TEST_CASE("grad: Conv2dInputGrad rules") {
  uint64_t seed = 120;
  for (const Case& c : kWeightGradCases) {
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups " << c.groups);
    check_grads(
        [&](auto& in) {
          return conv2d_input_grad(in[0], in[1], {c.x[2], c.x[3]}, c.stride, c.padding,
                                   c.dilation, c.groups);
        },
        {conv_output_like(c, seed), rand_like(c.w, seed + 1)}, "Conv2dInputGrad");
    seed += 2;
  }
}

TEST_CASE("conv2d_input_grad refuses shapes that do not belong to one convolution") {
  array w = rand_like({4, 3, 3, 3}, 1);
  auto call = [&](Shape ct, Pair size, int groups) {
    return [=] { conv2d_input_grad(rand_like(ct, 2), w, size, {1, 1}, {0, 0}, {1, 1}, groups); };
  };
  check_throws_with(call({2, 4, 4, 4}, {5, 5}, 1),
                    {"[conv2d_input_grad] cotangent (2,4,4,4)", "(5,5) input", "(4,3,3,3)"});
  check_throws_with(call({2, 5, 3, 3}, {5, 5}, 1), {"[conv2d_input_grad] cotangent (2,5,3,3)"});
  check_throws_with(call({2, 4, 3, 3}, {5, 5}, 3), {"[conv2d_input_grad]", "groups=3"});
  check_throws_with(call({2, 4, 3, 3}, {0, 5}, 1), {"[conv2d_input_grad] input_size must be >= 1"});
  check_throws_with([&] { conv2d_input_grad(rand_like({2, 4, 3}, 2), w, {5, 5}); },
                    {"[conv2d_input_grad] expected cotangent [N,O,Ho,Wo]", "(2,4,3)"});
}
