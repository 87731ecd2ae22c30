// Building blocks of the detection criteria: focal terms, matching costs,
// target padding.
#include "mfx/criteria/criteria.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::criteria;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

// z = [0, 2, -1, 30, -30]
const array kLogits = array({0.0, 2.0, -1.0, 30.0, -30.0}, Shape{5}, float64);

// Two predictions and two ground truths with hand-computable overlaps.
const array kPred = array({0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2}, Shape{1, 2, 4}, float64);
const array kGt = array({0.5, 0.5, 0.4, 0.4, 0.7, 0.7, 0.2, 0.2}, Shape{1, 2, 4}, float64);
const array kClsLogits = array({0.5, -1.0, 2.0, -0.3, 0.0, 1.0}, Shape{1, 2, 3}, float64);

}  // namespace

TEST_CASE("focal terms match numpy and stay finite for large logits") {
  // sp = softplus; p = sigmoid(z)
  // 0.25*(1-p)**2*sp(-z)
  check_close(
      focal_positive(kLogits, 0.25, 2.0),
      {0.04332169878499658, 0.00045089070881009483, 0.17546707585284624, 0.0, 7.499999999998619},
      {5}, 1e-9, 1e-12);
  // 0.75*p**2*sp(z)
  check_close(
      focal_negative(kLogits, 0.25, 2.0),
      {0.12996509635498973, 1.2375586345660565, 0.016993543131350496, 22.49999999999586, 0.0}, {5},
      1e-9, 1e-12);
  // float32: no overflow to inf at |z| = 30 (naive -log(1 - sigmoid(30)) is inf).
  auto v = test::values(focal_negative(astype(kLogits, float32), 0.25, 2.0));
  CHECK(std::abs(v[3] - 22.5) < 1e-4);
  // gamma other than 2 takes the power path: 0.25*(1-p)**1.5*sp(-z) at z = 0
  CHECK(focal_positive(array(0.0), 0.25, 1.5).item<double>() ==
        Approx(0.25 * std::pow(0.5, 1.5) * std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("sigmoid_focal_loss is the reference formula") {
  // t = [1, 0, 0.5, 1, 0]; ce = sp(z) - z t; p_t = p t + (1-p)(1-t);
  // alpha_t = 0.25 t + 0.75 (1-t); alpha_t * ce * (1 - p_t)**2
  array t = array({1.0, 0.0, 0.5, 1.0, 0.0}, Shape{5}, float64);
  check_close(sigmoid_focal_loss(kLogits, t, 0.25, 2.0),
              {0.04332169878499658, 1.2375586345660565, 0.10165771093977785, 0.0, 0.0}, {5}, 1e-9,
              1e-12);
  // Binary targets: FL+ where t = 1, FL- where t = 0.
  array tb = array({1.0, 0.0, 1.0, 0.0, 1.0}, Shape{5}, float64);
  array expect =
      where(tb > 0.5, focal_positive(kLogits, 0.25, 2.0), focal_negative(kLogits, 0.25, 2.0));
  CHECK(allclose(sigmoid_focal_loss(kLogits, tb, 0.25, 2.0), expect, 1e-9, 1e-12));
  // Broadcast targets: a [K] row against [2, K] logits.
  array z2 = reshape(astype(kLogits, float64), {1, 5});
  CHECK(sigmoid_focal_loss(concatenate({z2, z2}), t, 0.25, 2.0).shape() == Shape{2, 5});
}

TEST_CASE("focal_class_cost gathers pos - neg at the GT classes") {
  // p = sigmoid(L); neg = 0.75*p**2*-log(1-p+1e-8); pos = 0.25*(1-p)**2*-log(p+1e-8)
  // (pos-neg)[:, [2, 0]].T
  array labels = array({2, 0}, Shape{1, 2}, int32);
  check_close(focal_class_cost(kClsLogits, labels, 0.25, 2.0),
              {-1.2371076950856361, -0.5207366985245929, -0.266165320890692, -0.004814022131325452},
              {1, 2, 2}, 1e-9, 1e-12);
  // A transposed view of the logits gives the same cost.
  array lt = swapaxes(array({0.5, -0.3, -1.0, 0.0, 2.0, 1.0}, Shape{1, 3, 2}, float64), 1, 2);
  CHECK(allclose(focal_class_cost(lt, labels, 0.25, 2.0),
                 focal_class_cost(kClsLogits, labels, 0.25, 2.0), 0, 0));
  // Out-of-range classes throw when evaluated.
  CHECK_THROWS(focal_class_cost(kClsLogits, array({3, 0}, Shape{1, 2}, int32), 0.25, 2.0).eval());
  check_throws_with(
      [&] {
        focal_class_cost(kClsLogits, array({1.0}, Shape{1, 1}), 0.25, 2.0);
      },
      {"[focal_class_cost]", "(1,1)"});
}

TEST_CASE("l1_cost and pairwise_giou are GT x query matrices") {
  // |dcx| + |dcy| + |dw| + |dh| for (gt, pred) pairs
  check_close(l1_cost(kPred, kGt), {0.4, 1.0, 0.4, 1.0}, {1, 2, 2});
  // gt0 contains pred0 (IoU 0.04/0.16); gt0 and pred1 touch at a corner
  // (-(0.36-0.2)/0.36); gt1 vs pred0: -(0.16-0.08)/0.16; gt1 vs pred1:
  // -(0.49-0.08)/0.49.
  check_close(pairwise_giou(kPred, kGt), {0.25, -0.16 / 0.36, -0.5, -0.41 / 0.49}, {1, 2, 2});
  // Broadcast-strided predictions (a stride-0 batch axis).
  array pb = broadcast_to(kPred, {3, 2, 4});
  array gb = concatenate({kGt, kGt, kGt});
  check_close(l1_cost(pb, gb), {0.4, 1.0, 0.4, 1.0, 0.4, 1.0, 0.4, 1.0, 0.4, 1.0, 0.4, 1.0},
              {3, 2, 2});
  check_throws_with(
      [&] {
        l1_cost(kPred, reshape(kGt, {1, 4, 2}));
      },
      {"[l1_cost]", "(1,2,4)", "(1,4,2)"});
  check_throws_with([&] { pairwise_giou(astype(kPred, int32), kGt); },
                    {"[pairwise_giou]", "int32"});
}

TEST_CASE("matching_cost combines the terms and zeroes padded rows") {
  Targets t{array({2, 0}, Shape{1, 2}, int32), kGt, array({true, false}, Shape{1, 2})};
  // 2*cls + 5*l1 - 2*giou on row 0; row 1 is padding.
  check_close(matching_cost(kClsLogits, kPred, t, CostWeights{}),
              {2 * -1.2371076950856361 + 5 * 0.4 - 2 * 0.25,
               2 * -0.5207366985245929 + 5 * 1.0 + 2 * 0.16 / 0.36, 0.0, 0.0},
              {1, 2, 2}, 1e-9, 1e-9);
  // Other weights.
  CostWeights w;
  w.cls = 1;
  w.l1 = 0;
  w.giou = 0;
  check_close(matching_cost(kClsLogits, kPred, t, w),
              {-1.2371076950856361, -0.5207366985245929, 0.0, 0.0}, {1, 2, 2}, 1e-9, 1e-9);
  // Padded rows may hold garbage labels and NaN boxes.
  const double nan = std::nan("");
  Targets g{
      array({2, 99}, Shape{1, 2}, int32),
      array(std::vector<double>{0.5, 0.5, 0.4, 0.4, nan, nan, nan, nan}, Shape{1, 2, 4}, float64),
      array({true, false}, Shape{1, 2})};
  CHECK(allclose(matching_cost(kClsLogits, kPred, g, CostWeights{}),
                 matching_cost(kClsLogits, kPred, t, CostWeights{})));
}

TEST_CASE("matching_cost rejects mismatched inputs") {
  Targets t{array({2, 0}, Shape{1, 2}, int32), kGt, array({true, true}, Shape{1, 2})};
  check_throws_with(
      [&] {
        matching_cost(kClsLogits, reshape(kPred, {1, 4, 2}), t, {});
      },
      {"[matching_cost]", "(1,4,2)", "(1,2,4)"});
  check_throws_with(
      [&] {
        matching_cost(kClsLogits, concatenate({kPred, kPred}, 1), t, {});
      },
      {"[matching_cost]", "(1,4,4)", "(1,2,3)"});
  check_throws_with([&] { matching_cost(astype(kClsLogits, int32), kPred, t, {}); },
                    {"[matching_cost]", "logits", "int32"});
  Targets bad_b{array({2, 0, 1, 1}, Shape{2, 2}, int32), concatenate({kGt, kGt}),
                array({true, true, true, true}, Shape{2, 2})};
  check_throws_with([&] { matching_cost(kClsLogits, kPred, bad_b, {}); },
                    {"[matching_cost]", "(2,2)", "(1,2,3)", "batch"});
  Targets bad_mask{t.labels, kGt, array({1, 1}, Shape{1, 2}, int32)};
  check_throws_with([&] { matching_cost(kClsLogits, kPred, bad_mask, {}); },
                    {"[matching_cost]", "mask", "bool"});
  Targets bad_boxes{t.labels, reshape(kPred, {1, 1, 8}), t.mask};
  check_throws_with([&] { matching_cost(kClsLogits, kPred, bad_boxes, {}); },
                    {"[matching_cost]", "target boxes", "(1,1,8)"});
}

TEST_CASE("gt_bucket and pad_targets") {
  CHECK(gt_bucket(0) == 8);
  CHECK(gt_bucket(8) == 8);
  CHECK(gt_bucket(9) == 16);
  CHECK(gt_bucket(33) == 64);
  CHECK(gt_bucket(100) == 128);
  check_throws_with([] { gt_bucket(-1); }, {"[gt_bucket]", "-1"});

  std::vector<array> labels{array({3, 1}, Shape{2}, int64), array(std::vector<int32_t>{}, {0})};
  std::vector<array> boxes{array({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, Shape{2, 4}, float64),
                           zeros({0, 4}, float64)};
  Targets t = pad_targets(labels, boxes, 3);
  REQUIRE(t.labels.dtype() == int32);
  REQUIRE(t.boxes.dtype() == float64);
  REQUIRE(t.mask.dtype() == bool_);
  check_close(t.labels, {3, 1, 0, 0, 0, 0}, {2, 3});
  check_close(t.mask, {1, 1, 0, 0, 0, 0}, {2, 3});
  check_close(t.boxes, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.5, 0.5, 1, 1,
                        0.5, 0.5, 1,   1,   0.5, 0.5, 1,   1,   0.5, 0.5, 1, 1},
              {2, 3, 4});
  check_throws_with([&] { pad_targets(labels, boxes, 1); },
                    {"[pad_targets]", "image 0", "bucket 1"});
  check_throws_with([&] { pad_targets(labels, {boxes[0]}, 8); }, {"[pad_targets]", "2", "1"});
  check_throws_with(
      [&] {
        pad_targets({labels[0]}, {reshape(boxes[0], {4, 2})}, 8);
      },
      {"[pad_targets]", "(4,2)", "(2,4)"});
  check_throws_with([&] { pad_targets({astype(labels[0], float32)}, {boxes[0]}, 8); },
                    {"[pad_targets]", "float32"});
}
