// The baseline criterion: Deformable DETR's HungarianMatcher + SetCriterion.
// The matching runs on the host from an evaluated cost (it has no gradient);
// the losses are mfx ops on the matched pairs, so they differentiate.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/boxes.h"
#include "mfx/criteria/assignment.h"
#include "mfx/criteria/criteria.h"
#include "mfx/ops.h"

namespace mfx::criteria {

std::vector<Matching> hungarian_match(const array& logits, const array& boxes, const Targets& t,
                                      const CostWeights& w) {
  const std::string fn = "hungarian_match";
  detail::check_layer(fn, logits, boxes, t);
  const int64_t B = logits.shape(0), N = logits.shape(1), M = t.labels.shape(1);
  array cost = matching_cost(stop_gradient(logits), stop_gradient(boxes), t, w);
  cost.eval();
  // Real rows are read in place on the CPU (float32 or float64) and only they
  // are copied: a whole double copy of [B, M, N] is fresh pages each layer
  // (22 MB at N = 2700).
  const bool in_place = cost.device().type == Device::Type::cpu && cost.flags().row_contiguous &&
                        (cost.dtype() == float32 || cost.dtype() == float64);
  const std::vector<double> all = in_place ? std::vector<double>() : cost.to_vector<double>();
  auto append_row = [&](int64_t r, std::vector<double>& dst) {
    if (!in_place) {
      dst.insert(dst.end(), all.begin() + r * N, all.begin() + (r + 1) * N);
    } else if (cost.dtype() == float32) {
      dst.insert(dst.end(), cost.data_ptr<float>() + r * N, cost.data_ptr<float>() + (r + 1) * N);
    } else {
      dst.insert(dst.end(), cost.data_ptr<double>() + r * N,
                 cost.data_ptr<double>() + (r + 1) * N);
    }
  };
  const std::vector<double> mask = t.mask.to_vector<double>();
  std::vector<Matching> result(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    // Real rows need not be a prefix: compact them, solve, map back.
    std::vector<int64_t> real;
    for (int64_t i = 0; i < M; ++i) {
      if (mask[b * M + i] != 0.0) real.push_back(i);
    }
    std::vector<double> sub;
    sub.reserve(real.size() * static_cast<size_t>(N));
    for (int64_t i : real) append_row(b * M + i, sub);
    // NaN costs come from non-finite model outputs (a diverged run), not from
    // a malformed problem: a domain_error lets training name it as such.
    if (std::any_of(sub.begin(), sub.end(), [](double x) { return std::isnan(x); })) {
      throw std::domain_error(fmt::format(
          "[{}] image {}: the matching cost contains NaN (logits {}): the model's outputs are not "
          "finite",
          fn, b, shape_str(logits.shape())));
    }
    Assignment a;
    try {
      a = linear_sum_assignment(sub.data(), static_cast<int64_t>(real.size()), N);
    } catch (const std::invalid_argument& e) {
      detail::fail(fn, "image " + std::to_string(b) + " (logits " + shape_str(logits.shape()) +
                           "): " + e.what());
    }
    for (size_t p = 0; p < a.rows.size(); ++p) {
      result[b].gts.push_back(real[a.rows[p]]);
      result[b].queries.push_back(a.cols[p]);
    }
  }
  return result;
}

LossResult hungarian_criterion(const DecoderOutputs& out, const Targets& t,
                               const HungarianConfig& cfg, const StepInputs& in) {
  const std::string fn = "hungarian_criterion";
  detail::check_outputs(fn, out, t, /*need_hidden=*/false);
  const Targets s = detail::sanitize(t);
  const double nb = detail::num_boxes(fn, t, in);
  const array& l0 = out.logits[0];
  const int64_t B = l0.shape(0), N = l0.shape(1), K = l0.shape(2), M = t.labels.shape(1);
  const std::vector<int64_t> labels = s.labels.to_vector<int64_t>();
  for (int64_t i = 0; i < B * M; ++i) {
    if (labels[i] < 0 || labels[i] >= K) {
      detail::fail(fn, "label " + std::to_string(labels[i]) + " of image " + std::to_string(i / M) +
                           ", ground truth " + std::to_string(i % M) + " is outside [0, " +
                           std::to_string(K) + ") for logits " + shape_str(l0.shape()));
    }
  }
  const array gt_xyxy = expand_dims(box_cxcywh_to_xyxy(s.boxes), 2);  // [B, M, 1, 4]

  array total;
  Tree components;
  for (size_t l = 0; l < out.logits.size(); ++l) {
    const array& logits = out.logits[l];
    const array& boxes = out.boxes[l];
    const auto match = hungarian_match(logits, boxes, t, cfg.cost);
    // Each matched query's class, -1 (no class: a zero row of the one-hot)
    // for the others.
    std::vector<int32_t> class_of(static_cast<size_t>(B * N), -1);
    std::vector<int32_t> query_of(static_cast<size_t>(B * M), 0);
    std::vector<uint8_t> matched(static_cast<size_t>(B * M), 0);
    for (int64_t b = 0; b < B; ++b) {
      for (size_t p = 0; p < match[b].gts.size(); ++p) {
        const int64_t g = match[b].gts[p], q = match[b].queries[p];
        class_of[b * N + q] = static_cast<int32_t>(labels[b * M + g]);
        query_of[b * M + g] = static_cast<int32_t>(q);
        matched[b * M + g] = 1;
      }
    }
    const array target = one_hot(array(class_of, {B, N}), K, logits.dtype());
    const array sel = astype(array(matched, {B, M}, uint8), bool_);
    const array idx = expand_dims(array(query_of, {B, M}, int32), -1);

    array loss_ce = sum(sigmoid_focal_loss(logits, target, cfg.cost.alpha, cfg.cost.gamma)) / nb;
    // Predicted box of each ground truth's query (query 0 for unmatched rows,
    // which the selection masks out).
    array pred = take_along_axis(boxes, idx, 1);  // [B, M, 4]
    array zero = zeros({}, pred.dtype());
    array loss_bbox = sum(where(expand_dims(sel, -1), abs(pred - s.boxes), zero)) / nb;
    array giou =
        reshape(generalized_box_iou(expand_dims(box_cxcywh_to_xyxy(pred), 2), gt_xyxy), {B, M});
    array loss_giou = sum(where(sel, 1.0 - giou, zero)) / nb;

    array layer_loss = cfg.w_ce * loss_ce + cfg.w_bbox * loss_bbox + cfg.w_giou * loss_giou;
    total = l == 0 ? layer_loss : total + layer_loss;
    const std::string i = std::to_string(l);
    components["loss_ce_" + i] = Tree(loss_ce);
    components["loss_bbox_" + i] = Tree(loss_bbox);
    components["loss_giou_" + i] = Tree(loss_giou);
  }
  return LossResult{total, components};
}

}  // namespace mfx::criteria
