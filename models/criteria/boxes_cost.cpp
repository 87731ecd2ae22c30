// The pairwise matching cost of Deformable DETR's HungarianMatcher, as
// [B, M, N] arrays (ground truths x queries) built from mfx ops.
#include "criteria/criteria_common.h"
#include "mfx/boxes.h"
#include "mfx/criteria/criteria.h"
#include "mfx/ops.h"

namespace mfx::criteria {
namespace {

void check_box_pair(const char* fn, const array& pred, const array& gt) {
  detail::check_floating(fn, "pred_boxes", pred, 3);
  detail::check_floating(fn, "gt_boxes", gt, 3);
  if (pred.shape(2) != 4 || gt.shape(2) != 4 || pred.shape(0) != gt.shape(0)) {
    detail::fail(fn, "expected pred_boxes [B, N, 4] and gt_boxes [B, M, 4], got " +
                         shape_str(pred.shape()) + " and " + shape_str(gt.shape()));
  }
}

}  // namespace

array focal_class_cost(const array& logits, const array& labels, double alpha, double gamma) {
  const char* fn = "focal_class_cost";
  detail::check_floating(fn, "logits", logits, 3);
  if (!labels.valid() || labels.ndim() != 2 || !is_integral(labels.dtype()) ||
      labels.shape(0) != logits.shape(0)) {
    detail::fail(fn, "expected integer labels [B, M] for logits " + shape_str(logits.shape()) +
                         ", got " + (labels.valid() ? shape_str(labels.shape()) : "null"));
  }
  // Gather each ground truth's class logit first ([B, N, M] instead of
  // [B, N, K]): the terms are elementwise, so the values are the same.
  return detail::focal_cost_of_gathered(take_along_axis(logits, expand_dims(labels, 1), 2), alpha,
                                        gamma);
}

array l1_cost(const array& pred_boxes, const array& gt_boxes) {
  check_box_pair("l1_cost", pred_boxes, gt_boxes);
  return sum(abs(expand_dims(pred_boxes, 1) - expand_dims(gt_boxes, 2)), -1);
}

array pairwise_giou(const array& pred_boxes, const array& gt_boxes) {
  check_box_pair("pairwise_giou", pred_boxes, gt_boxes);
  return generalized_box_iou(box_cxcywh_to_xyxy(gt_boxes), box_cxcywh_to_xyxy(pred_boxes));
}

array matching_cost(const array& logits, const array& boxes, const Targets& t,
                    const CostWeights& w) {
  detail::check_layer("matching_cost", logits, boxes, t);
  Targets s = detail::sanitize(t);
  return detail::combine_cost(focal_class_cost(logits, s.labels, w.alpha, w.gamma),
                              l1_cost(boxes, s.boxes), pairwise_giou(boxes, s.boxes), s.mask, w);
}

namespace detail {

array focal_cost_of_gathered(const array& z, double alpha, double gamma) {
  array p = sigmoid(z);
  // The matcher's 1e-8 guards (not the stable form of the loss): kept for
  // bit-level agreement with the reference assignment.
  array neg = (1.0 - alpha) * pow_gamma(p, gamma) * negative(log(1.0 - p + 1e-8));
  array pos = alpha * pow_gamma(1.0 - p, gamma) * negative(log(p + 1e-8));
  return swapaxes(pos - neg, 1, 2);  // [B, M, N]
}

array combine_cost(const array& focal, const array& l1, const array& giou, const array& mask,
                   const CostWeights& w) {
  array c = w.cls * focal + w.l1 * l1 - w.giou * giou;
  return where(expand_dims(mask, -1), c, zeros({}, c.dtype()));
}

}  // namespace detail

}  // namespace mfx::criteria
