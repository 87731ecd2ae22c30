// Gradients of composite ops through the transform engine: mfx::jvp and
// mfx::vjp of whole functions against central differences in float64
// (check_fn_grads in grad_check.h).
#include "grad_check.h"

using namespace mfx;
using namespace mfx::test;

namespace {

// rand_like scaled into [lo, hi).
array uniform_in(double lo, double hi, uint64_t seed, Shape shape) {
  return (rand_like(shape, seed) + 1.0) * ((hi - lo) / 2) + lo;
}

// cxcywh boxes with centres in [-1, 1) and sizes in [1, 3): most pairs overlap.
array boxes_cxcywh(int64_t n, uint64_t seed) {
  array c = rand_like({n, 2}, seed);
  array s = uniform_in(1, 3, seed + 1, {n, 2});
  array b = concatenate({c, s}, 1);
  b.eval();
  return b;
}

}  // namespace

TEST_CASE("engine grad: interpolate") {
  array x = rand_like({2, 2, 3, 4}, 1);
  check_fn_grads(
      [](auto& in) {
        return interpolate(in[0], {5, 7}, InterpolateMode::nearest);
      },
      {x});
  check_fn_grads(
      [](auto& in) {
        return interpolate(in[0], {2, 3}, InterpolateMode::nearest);
      },
      {x});
  for (bool align : {false, true}) {
    INFO("align_corners " << align);
    check_fn_grads(
        [&](auto& in) {
          return interpolate(in[0], {5, 7}, InterpolateMode::bilinear, align);
        },
        {x});
    check_fn_grads(
        [&](auto& in) {
          return interpolate(in[0], {2, 3}, InterpolateMode::bilinear, align);
        },
        {x});
  }
}

TEST_CASE("engine grad: conv_transpose2d") {
  array x = rand_like({2, 4, 3, 4}, 2);
  check_fn_grads([](auto& in) { return conv_transpose2d(in[0], in[1]); },
                 {x, rand_like({4, 3, 2, 3}, 3)});
  check_fn_grads(
      [](auto& in) {
        return conv_transpose2d(in[0], in[1], {2, 3}, {1, 0}, {1, 2}, {1, 1}, 2);
      },
      {x, rand_like({4, 1, 3, 3}, 4)});
  check_fn_grads(
      [](auto& in) {
        return conv_transpose2d(in[0], in[1], {2, 1}, {0, 1}, {0, 0}, {2, 2});
      },
      {x, rand_like({4, 2, 2, 2}, 5)});
}

TEST_CASE("engine grad: pooling") {
  array x = rand_like({2, 3, 6, 7}, 6);  // distinct values: no ties for max
  check_fn_grads([](auto& in) { return max_pool2d(in[0], {2, 2}); }, {x});
  check_fn_grads([](auto& in) { return max_pool2d(in[0], {3, 2}, Pair{2, 1}, {1, 1}); }, {x});
  check_fn_grads([](auto& in) { return avg_pool2d(in[0], {2, 3}); }, {x});
  for (bool include : {true, false}) {
    INFO("count_include_pad " << include);
    check_fn_grads(
        [&](auto& in) {
          return avg_pool2d(in[0], {3, 3}, Pair{2, 2}, {1, 1}, include);
        },
        {x});
  }
}

TEST_CASE("engine grad: normalization") {
  array x = rand_like({3, 4, 5}, 7);
  check_fn_grads([](auto& in) { return layer_norm(in[0], in[1], in[2]); },
                 {x, rand_like({5}, 8), rand_like({5}, 9)});
  check_fn_grads([](auto& in) { return layer_norm(in[0], std::nullopt, std::nullopt, 1e-3); }, {x});
  array xg = rand_like({2, 4, 3, 2}, 10);
  check_fn_grads([](auto& in) { return group_norm(in[0], 2, in[1], in[2]); },
                 {xg, rand_like({4}, 11), rand_like({4}, 12)});
  check_fn_grads([](auto& in) { return group_norm(in[0], 4, std::nullopt, std::nullopt); }, {xg});
  // batch_norm is inference-only: running statistics are inputs too.
  check_fn_grads([](auto& in) { return batch_norm(in[0], in[1], in[2], in[3], in[4]); },
                 {xg, rand_like({4}, 13), uniform_in(0.5, 2, 14, {4}), rand_like({4}, 15),
                  rand_like({4}, 16)});
}

TEST_CASE("engine grad: softmax family") {
  array x = rand_like({3, 4, 5}, 17) * 3.0;
  check_fn_grads([](auto& in) { return softmax(in[0], -1); }, {x});
  check_fn_grads([](auto& in) { return softmax(in[0], std::vector<int>{0, 2}); }, {x});
  check_fn_grads([](auto& in) { return log_softmax(in[0], 1); }, {x});
  check_fn_grads([](auto& in) { return log_softmax(in[0], std::vector<int>{1, 2}); }, {x});
  check_fn_grads([](auto& in) { return logsumexp(in[0], 2); }, {x});
  check_fn_grads([](auto& in) { return logsumexp(in[0], std::vector<int>{0, 1}, true); }, {x});
  check_fn_grads([](auto& in) { return logsumexp(in[0]); }, {x});
}

TEST_CASE("engine grad: einsum") {
  array a = rand_like({3, 4}, 18), b = rand_like({4, 5}, 19), c = rand_like({5, 2}, 20);
  check_fn_grads([](auto& in) { return einsum("ij,jk->ik", {in[0], in[1]}); }, {a, b});
  check_fn_grads([](auto& in) { return einsum("ij,jk,kl->il", {in[0], in[1], in[2]}); }, {a, b, c});
  array p = rand_like({2, 3, 4}, 21), q = rand_like({2, 5, 4}, 22);
  check_fn_grads([](auto& in) { return einsum("bnd,bmd->bnm", {in[0], in[1]}); }, {p, q});
  check_fn_grads([](auto& in) { return einsum("ij->ji", {in[0]}); }, {a});
  check_fn_grads(
      [](auto& in) {
        return einsum("ij,ij->", {in[0], in[1]});
      },
      {a, rand_like({3, 4}, 23)});
  // A private index summed first, and the implicit output form.
  check_fn_grads(
      [](auto& in) {
        return einsum("bij,jk", {in[0], in[1]});
      },
      {rand_like({2, 3, 4}, 24), b});
}

TEST_CASE("engine grad: boxes") {
  array a = boxes_cxcywh(3, 25), b = boxes_cxcywh(4, 27);
  check_fn_grads([](auto& in) { return box_cxcywh_to_xyxy(in[0]); }, {a});
  check_fn_grads([](auto& in) { return box_xyxy_to_cxcywh(in[0]); }, {a});
  check_fn_grads([](auto& in) { return box_area(box_cxcywh_to_xyxy(in[0])); }, {a});
  check_fn_grads(
      [](auto& in) { return box_iou(box_cxcywh_to_xyxy(in[0]), box_cxcywh_to_xyxy(in[1])); },
      {a, b});
  check_fn_grads(
      [](auto& in) {
        return generalized_box_iou(box_cxcywh_to_xyxy(in[0]), box_cxcywh_to_xyxy(in[1]));
      },
      {a, b});
  // Disjoint boxes: GIoU is all penalty.
  array far = boxes_cxcywh(2, 29) + array({10.0, 10.0, 0.0, 0.0});
  check_fn_grads(
      [](auto& in) {
        return generalized_box_iou(box_cxcywh_to_xyxy(in[0]), box_cxcywh_to_xyxy(in[1]));
      },
      {a, far});
}

TEST_CASE("engine grad: broadcasting binary ops and multi-axis reductions") {
  array x = rand_like({2, 3, 4}, 31), y = uniform_in(0.5, 2, 32, {3, 1}), z = rand_like({4}, 33);
  check_fn_grads(
      [](auto& in) {
        return sum(in[0] * in[1] + in[2], std::vector<int>{0, 2});
      },
      {x, y, z});
  check_fn_grads(
      [](auto& in) {
        return mean(in[0] / in[1] - in[2], std::vector<int>{1, 2}, true);
      },
      {x, y, z});
  check_fn_grads([](auto& in) { return max(in[0] * in[1], std::vector<int>{0, 2}); }, {x, y});
  check_fn_grads(
      [](auto& in) {
        return var(transpose(in[0]) - in[1], std::vector<int>{0, 2});
      },
      {x, rand_like({2}, 34)});
}

TEST_CASE("check_fn_grads detects a wrong derivative", "[!shouldfail]") {
  // stop_gradient hides half of d(x^2)/dx from the engine, not from FD.
  check_fn_grads([](auto& in) { return in[0] * stop_gradient(in[0]); }, {rand_like({3}, 35)});
}
