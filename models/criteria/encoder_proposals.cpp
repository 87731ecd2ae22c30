// encoder_proposal_loss (see include/mfx/criteria/encoder_proposals.h).
#include "mfx/criteria/encoder_proposals.h"

#include <string>

#include "criteria/criteria_common.h"
#include "mfx/boxes.h"
#include "mfx/criteria/criteria.h"
#include "mfx/ops.h"

namespace mfx::criteria {
namespace {

const char* kFn = "encoder_proposal_loss";

void check(const EncoderProposals& p, const Targets& t) {
  detail::check_floating(kFn, "logits", p.logits, 3);
  detail::check_floating(kFn, "boxes", p.boxes, 3);
  detail::check_floating(kFn, "centres", p.centres, 3);
  const int64_t b = p.logits.shape(0), s = p.logits.shape(1);
  const Shape boxes{b, s, 4}, centres{b, s, 2}, valid{b, s};
  if (p.boxes.shape() != boxes || p.centres.shape() != centres || !p.valid.valid() ||
      p.valid.shape() != valid || p.valid.dtype() != bool_) {
    detail::fail(kFn, "expected boxes " + shape_str(boxes) + ", centres " + shape_str(centres) +
                          " and bool valid " + shape_str(valid) + " for logits " +
                          shape_str(p.logits.shape()) + ", got " + shape_str(p.boxes.shape()) +
                          ", " + shape_str(p.centres.shape()) + " and " +
                          (p.valid.valid() ? shape_str(p.valid.shape()) : std::string("none")));
  }
  if (!t.labels.valid() || !t.boxes.valid() || !t.mask.valid() || t.labels.ndim() != 2 ||
      t.labels.shape(0) != b || t.boxes.shape() != Shape{b, t.labels.shape(1), 4} ||
      t.mask.shape() != t.labels.shape()) {
    detail::fail(kFn, "targets must be labels [" + std::to_string(b) + ", M], boxes [" +
                          std::to_string(b) + ", M, 4] and mask [" + std::to_string(b) +
                          ", M] for logits " + shape_str(p.logits.shape()));
  }
}

// Each token's positive ground truth: [B, S] index of the smallest real box
// containing the token's centre, and whether there is one.
std::pair<array, array> assign(const EncoderProposals& p, const Targets& s, Dtype dt) {
  const array gt = astype(s.boxes, dt);
  const array xyxy = expand_dims(box_cxcywh_to_xyxy(gt), 1);  // [B, 1, M, 4]
  const array c = expand_dims(p.centres, 2);                  // [B, S, 1, 2]
  auto coord = [](const array& a, int64_t i) { return squeeze(slice_axis(a, -1, i, i + 1), {-1}); };
  const array cx = coord(c, 0), cy = coord(c, 1);
  array inside = logical_and(logical_and(cx > coord(xyxy, 0), cx < coord(xyxy, 2)),
                             logical_and(cy > coord(xyxy, 1), cy < coord(xyxy, 3)));
  inside = logical_and(inside, logical_and(expand_dims(s.mask, 1), expand_dims(p.valid, 2)));
  // Normalised areas are at most 1, so 2 ranks after every real box.
  const array area = expand_dims(coord(gt, 2) * coord(gt, 3), 1);  // [B, 1, M]
  const array index = argmin(where(inside, area, array(2.0, dt)), 2);
  return {index, any(inside, 2)};
}

}  // namespace

std::pair<array, Tree> encoder_proposal_loss(const EncoderProposals& p, const Targets& t,
                                             const EncoderLossConfig& cfg) {
  check(p, t);
  const Targets s = detail::sanitize(t);
  const Dtype dt = p.logits.dtype();
  const int64_t k = p.logits.shape(2);
  auto [index, positive] = assign(p, s, dt);
  const array pos = astype(positive, dt);                 // [B, S]
  const array count = sum(pos);
  const array norm = maximum(count, array(1.0, dt));
  const array zero = zeros({}, dt);

  const array label = take_along_axis(s.labels, index, 1);  // [B, S]
  const array target = one_hot(label, k, dt) * expand_dims(pos, -1);
  const array focal = sigmoid_focal_loss(p.logits, target, cfg.alpha, cfg.gamma);
  const array loss_ce = sum(where(expand_dims(p.valid, -1), focal, zero)) / norm;

  // Negatives compare with the whole image, so GIoU stays finite where masked.
  const array whole = broadcast_to(astype(array({0.5, 0.5, 1.0, 1.0}, {4}), dt), p.boxes.shape());
  const array gt = where(expand_dims(positive, -1),
                         take_along_axis(astype(s.boxes, dt), expand_dims(index, -1), 1), whole);
  const array loss_bbox = sum(where(positive, sum(abs(p.boxes - gt), -1), zero)) / norm;
  const int64_t b = p.boxes.shape(0), n = p.boxes.shape(1);
  const array giou = reshape(generalized_box_iou(expand_dims(box_cxcywh_to_xyxy(p.boxes), 2),
                                                 expand_dims(box_cxcywh_to_xyxy(gt), 2)),
                             {b, n});
  const array loss_giou = sum(where(positive, 1.0 - giou, zero)) / norm;

  const array loss = cfg.w_ce * loss_ce + cfg.w_bbox * loss_bbox + cfg.w_giou * loss_giou;
  Tree components;
  components["loss_enc_ce"] = Tree(loss_ce);
  components["loss_enc_bbox"] = Tree(loss_bbox);
  components["loss_enc_giou"] = Tree(loss_giou);
  components["enc_positives"] = Tree(count);
  return {loss, components};
}

}  // namespace mfx::criteria
