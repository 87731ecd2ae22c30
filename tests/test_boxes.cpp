// Box utilities: conversions, areas, pairwise IoU and GIoU (hand-computed).
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

TEST_CASE("box format conversions and areas", "[boxes]") {
  array c({1.0f, 2.0f, 4.0f, 6.0f, 0.5f, 0.5f, 1.0f, 0.0f}, {2, 4});
  array xyxy = box_cxcywh_to_xyxy(c);
  check_close(xyxy, {-1, -1, 3, 5, 0, 0.5, 1, 0.5}, {2, 4});
  check_close(box_xyxy_to_cxcywh(xyxy), {1, 2, 4, 6, 0.5, 0.5, 1, 0}, {2, 4});
  // Any leading shape, including none; integers convert in float32.
  check_close(box_cxcywh_to_xyxy(array({2, 2, 2, 4})), {1, 0, 3, 4}, {4});
  CHECK(box_cxcywh_to_xyxy(array({2, 2, 2, 4})).dtype() == float32);
  check_close(box_xyxy_to_cxcywh(reshape(xyxy, {1, 2, 1, 4})), {1, 2, 4, 6, 0.5, 0.5, 1, 0},
              {1, 2, 1, 4});
  // A transposed view: columns of a [4, 2] array.
  check_close(box_cxcywh_to_xyxy(
                  transpose(reshape(array({1.0, 0.5, 2.0, 0.5, 4.0, 1.0, 6.0, 0.0}), {4, 2}))),
              {-1, -1, 3, 5, 0, 0.5, 1, 0.5}, {2, 4});
  array b({0, 0, 2, 3, 1, 1, 4, 2}, {2, 4});
  array area = box_area(b);
  CHECK(area.dtype() == int32);
  check_close(area, {6, 3}, {2});
  check_close(box_area(array({0.0, 0.0, 0.5, 0.5})), {0.25}, {});
}

TEST_CASE("box_iou and generalized_box_iou by hand", "[boxes]") {
  // a0 = (0,0,2,2), a1 = (1,1,3,3); b0 = (1,1,2,2), b1 = (2,0,4,2), b2 = (5,5,6,6).
  array a({0.0, 0.0, 2.0, 2.0, 1.0, 1.0, 3.0, 3.0}, {2, 4});
  array b({1.0, 1.0, 2.0, 2.0, 2.0, 0.0, 4.0, 2.0, 5.0, 5.0, 6.0, 6.0}, {3, 4});
  // inter/union: a0b0 1/4, a0b1 0/8 (touching), a0b2 0/5, a1b0 1/4, a1b1 1/7, a1b2 0/5.
  check_close(box_iou(a, b), {0.25, 0, 0, 0.25, 1.0 / 7, 0}, {2, 3}, 1e-12, 1e-12);
  // giou = iou - (enclosing - union) / enclosing; enclosing areas 4, 8, 36, 4, 9, 25.
  check_close(generalized_box_iou(a, b), {0.25, 0, -31.0 / 36, 0.25, 1.0 / 7 - 2.0 / 9, -20.0 / 25},
              {2, 3}, 1e-12, 1e-12);
  // Identical boxes give 1; float32 and integer inputs compute in float32.
  array ai({0, 0, 2, 2, 1, 1, 3, 3}, {2, 4});
  array g = generalized_box_iou(ai, ai);
  CHECK(g.dtype() == float32);
  check_close(g, {1, 1.0 / 7 - 2.0 / 9, 1.0 / 7 - 2.0 / 9, 1}, {2, 2}, 1e-6, 1e-6);
}

TEST_CASE("degenerate boxes give no NaN", "[boxes]") {
  // A zero-area box against itself: union and enclosing area are 0 -> 0, not 0/0.
  array p({1.0, 1.0, 1.0, 1.0}, {1, 4});
  check_close(box_iou(p, p), {0}, {1, 1});
  check_close(generalized_box_iou(p, p), {0}, {1, 1});
  // A point inside a box: IoU 0, the enclosing box is the box itself -> GIoU 0.
  array q({0.0, 0.0, 2.0, 2.0}, {1, 4});
  check_close(box_iou(p, q), {0}, {1, 1});
  check_close(generalized_box_iou(q, p), {0}, {1, 1});
  // Two distinct points: union 0, enclosing 2x2 box -> GIoU = 0 - (4 - 0)/4 = -1.
  array r({3.0, 3.0, 3.0, 3.0}, {1, 4});
  check_close(generalized_box_iou(p, r), {-1}, {1, 1});
  // Zero-size sets of boxes.
  CHECK(box_iou(zeros({0, 4}), q).shape() == Shape{0, 1});
  box_iou(zeros({0, 4}), q).eval();
}

TEST_CASE("pairwise box ops broadcast leading axes", "[boxes]") {
  array a({0.0, 0.0, 2.0, 2.0, 1.0, 1.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0, 4.0, 2.0},
          {2, 2, 4});
  array b({1.0, 1.0, 2.0, 2.0, 2.0, 0.0, 4.0, 2.0, 5.0, 5.0, 6.0, 6.0}, {3, 4});
  array iou = box_iou(a, b);
  REQUIRE(iou.shape() == Shape{2, 2, 3});
  // Batch 0 is the hand-computed case above; batch 1 is b0, b1 against b.
  check_close(iou, {0.25, 0, 0, 0.25, 1.0 / 7, 0, 1, 0, 0, 0, 1, 0}, {2, 2, 3}, 1e-12, 1e-12);
  array g = generalized_box_iou(reshape(a, {2, 1, 2, 4}), broadcast_to(b, {3, 3, 4}));
  CHECK(g.shape() == Shape{2, 3, 2, 3});
  // b0 = (1,1,2,2) and b1 = (2,0,4,2) against b: unions 1, 5, 2 / 5, 4, 5;
  // enclosing areas 1, 6, 25 / 6, 4, 24.
  check_close(slice(g, {1, 2, 0, 0}, {2, 3, 2, 3}),
              {1, -1.0 / 6, -23.0 / 25, -1.0 / 6, 1, -19.0 / 24}, {1, 1, 2, 3}, 1e-12, 1e-12);
}

TEST_CASE("box errors", "[boxes]") {
  check_throws_with(
      [] {
        box_iou(zeros({3, 5}), zeros({2, 4}));
      },
      {"[box_iou]", "[..., N, 4]", "(3,5)"});
  check_throws_with([] { box_iou(zeros({4}), zeros({2, 4})); }, {"[box_iou]", "(4)"});
  check_throws_with(
      [] {
        generalized_box_iou(zeros({2, 3, 4}), zeros({5, 2, 4}));
      },
      {"[generalized_box_iou]", "(2)", "(5)"});
  check_throws_with([] { box_area(zeros({3})); }, {"[box_area]", "[..., 4]", "(3)"});
  check_throws_with([] { box_cxcywh_to_xyxy(zeros({2, 2})); }, {"[box_cxcywh_to_xyxy]", "(2,2)"});
  check_throws_with([] { box_xyxy_to_cxcywh(array(1.0f)); }, {"[box_xyxy_to_cxcywh]", "()"});
  check_throws_with([] { box_area(astype(zeros({4}), bool_)); }, {"[box_area]", "bool"});
}
