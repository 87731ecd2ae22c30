// The match-free (CAQS) criterion: the probe's attention A replaces the
// Hungarian assignment. L_w trains A towards cheap (GT, query) pairs; the
// sparse correspondence Â (a constant) weighs the detection losses L_q.
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"
#include "mfx/linalg.h"
#include "mfx/ops.h"

namespace mfx::criteria {

array sparse_correspondence(const array& attention, double rho, double eps,
                            MatchFreeConfig::Norm norm) {
  const std::string fn = "sparse_correspondence";
  if (!attention.valid() || attention.ndim() < 2 || !is_floating(attention.dtype())) {
    detail::fail(fn, "attention must be a floating array [..., M, N], got " +
                         (attention.valid() ? shape_str(attention.shape()) + " " +
                                                  std::string(dtype_name(attention.dtype()))
                                            : std::string("null")));
  }
  array a = stop_gradient(attention);
  array zero = zeros({}, a.dtype());
  if (a.size() == 0) return a;
  // Row filter: keep entries within a factor rho of their row's maximum.
  array r = where(a >= rho * max(a, -1, true), a, zero);
  // Column threshold: among the kept entries of a query, keep those within
  // rho of the column's maximum (a query serves the GTs that want it most).
  array s = where(logical_and(r > 0.0, r >= rho * max(r, -2, true)), r, zero);
  switch (norm) {
    case MatchFreeConfig::Norm::Sum:
      s = s / (sum(s, -1, true) + eps);
      break;
    case MatchFreeConfig::Norm::Max:
      s = s / (max(s, -1, true) + eps);
      break;
    case MatchFreeConfig::Norm::None:
      break;
  }
  return stop_gradient(s);
}

LossResult matchfree_criterion(const Tree& probe, const DecoderOutputs& out, const Targets& t,
                               const MatchFreeConfig& cfg, const StepInputs& in) {
  const std::string fn = "matchfree_criterion";
  detail::check_outputs(fn, out, t, /*need_hidden=*/true);
  const size_t L = out.logits.size();
  const int64_t B = out.logits[0].shape(0), N = out.logits[0].shape(1);
  const int64_t K = out.logits[0].shape(2), M = t.labels.shape(1);
  if (in.fixed_assignment) {
    const auto& fa = *in.fixed_assignment;
    if (fa.size() != L) {
      detail::fail(fn, "fixed_assignment has " + std::to_string(fa.size()) + " entries for " +
                           std::to_string(L) + " decoder layers");
    }
    for (size_t l = 0; l < L; ++l) {
      if (!fa[l].valid() || fa[l].shape() != Shape{B, M, N} || !is_floating(fa[l].dtype())) {
        detail::fail(fn, "fixed_assignment (layer " + std::to_string(l) + ") must be floating " +
                             shape_str({B, M, N}) + ", got " +
                             (fa[l].valid() ? shape_str(fa[l].shape()) : std::string("null")));
      }
    }
  }
  validate_matchfree_config(cfg, fn);
  if (in.num_boxes_value && in.num_boxes_value->ndim() != 0) {
    detail::fail(fn, "num_boxes_value must be a scalar, got shape " +
                         shape_str(in.num_boxes_value->shape()));
  }
  const Targets s = detail::sanitize(t);
  // An array, not a host value: nothing here reads data on the host, so the
  // criterion can be traced by jit.
  const array nb = in.num_boxes_value
                       ? astype(*in.num_boxes_value, out.logits[0].dtype())
                       : detail::num_boxes_array(fn, t, in.num_boxes, out.logits[0].dtype());
  const array row_mask = expand_dims(s.mask, -1);  // [B, M, 1]
  const array gt_class = where(row_mask, one_hot(s.labels, K, float32), zeros({}, float32));
  const array label_idx = expand_dims(s.labels, 1);  // [B, 1, M]
  // The probe's ground-truth side is the same for every layer.
  const detail::ProbeKeys keys = detail::probe_keys(fn, probe, s, K, out.hidden[0].shape(2));

  array total;
  Tree components;
  for (size_t l = 0; l < L; ++l) {
    const array& logits = out.logits[l];
    const array& boxes = out.boxes[l];
    // The pairwise box terms serve both the cost (stop-gradient) and L_q.
    array l1 = l1_cost(boxes, s.boxes);          // [B, M, N]
    array giou = pairwise_giou(boxes, s.boxes);  // [B, M, N]
    // Each query's logit at each GT's class [B, N, M], for the cost and FL+.
    array z_gt = take_along_axis(logits, label_idx, 2);
    array cost = stop_gradient(
        detail::combine_cost(detail::focal_cost_of_gathered(z_gt, cfg.cost.alpha, cfg.cost.gamma),
                             l1, giou, s.mask, cfg.cost));
    const detail::ProbeAttention pa =
        detail::probe_attention_with(probe, keys, logits, boxes, out.hidden[l], s.mask, cfg);
    const array& attn = pa.attention;
    array a_hat;
    if (in.fixed_assignment) {
      a_hat = stop_gradient((*in.fixed_assignment)[l]);
    } else if (cfg.selection == MatchFreeConfig::Selection::Greedy) {
      // On log A: A itself saturates to exactly 1 in float32 and would tie.
      a_hat = greedy_selection(pa.log_attention, s.mask);
    } else {
      a_hat = sparse_correspondence(attn, cfg.rho, cfg.eps, cfg.norm);
    }
    a_hat = where(row_mask, a_hat, zeros({}, a_hat.dtype()));
    array selected = a_hat > 0.0;  // [B, M, N]

    array l_w = sum(attn * cost) / nb;

    // Positives: each selected pair's query at its GT's class, weighted by Â
    // (on the gathered logits: [B, N, M], not [B, N, K]).
    array pos = swapaxes(focal_positive(z_gt, cfg.cost.alpha, cfg.cost.gamma), 1, 2);  // [B, M, N]
    // Negatives: every (query, class) not selected by a GT of that class.
    array y = matmul(swapaxes(astype(selected, float32), 1, 2), gt_class) > 0.0f;  // [B, N, K]
    array neg = focal_negative(logits, cfg.cost.alpha, cfg.cost.gamma);
    array zero = zeros({}, neg.dtype());
    array loss_ce = (sum(a_hat * pos) + sum(where(y, zero, neg))) / nb;
    array loss_bbox = sum(a_hat * l1) / nb;
    array loss_giou = sum(a_hat * (1.0 - giou)) / nb;
    array l_q = cfg.w_ce * loss_ce + cfg.w_bbox * loss_bbox + cfg.w_giou * loss_giou;

    array layer_loss = cfg.alpha_w * l_w + cfg.beta_q * l_q;
    total = l == 0 ? layer_loss : total + layer_loss;
    const std::string i = std::to_string(l);
    components["L_w_" + i] = Tree(l_w);
    components["L_q_" + i] = Tree(l_q);
    components["loss_ce_" + i] = Tree(loss_ce);
    components["loss_bbox_" + i] = Tree(loss_bbox);
    components["loss_giou_" + i] = Tree(loss_giou);
    components["selected_per_gt_" + i] = Tree(sum(astype(selected, int32), -1));
  }
  return LossResult{total, components};
}

}  // namespace mfx::criteria
