// Two-stage queries (see two_stage.h).
#include "detr/two_stage.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "detr/detr_common.h"
#include "mfx/ops.h"

namespace mfx::detr::detail {
namespace {

const char* kFn = "deformable_detr_forward";

array box_mlp(const Tree& params, const std::string& prefix, const array& x) {
  array h = relu(linear(kFn, params, prefix + ".layers.0", x));
  h = relu(linear(kFn, params, prefix + ".layers.1", h));
  return linear(kFn, params, prefix + ".layers.2", h);
}

}  // namespace

array proposal_sine_embedding(const array& boxes, int64_t features_per_coord) {
  const int64_t half = features_per_coord / 2;
  std::vector<double> inv_dim(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) {
    inv_dim[k] = 2.0 * std::numbers::pi /
                 std::pow(10000.0, 2.0 * static_cast<double>(k) /
                                       static_cast<double>(features_per_coord));
  }
  const array u = expand_dims(boxes, -1) * astype(array(inv_dim, {half}, float64), boxes.dtype());
  const array e = stack({sin(u), cos(u)}, -1);  // [B, Q, 4, F/2, 2]
  return reshape(e, {boxes.shape(0), boxes.shape(1), 4 * features_per_coord});
}

TwoStageQueries two_stage_queries(const Tree& params, const array& memory, const array& padding,
                                  const SpatialShapes& shapes, const array& ratios,
                                  const array& enc_ref, const DeformableDetrConfig& cfg) {
  const int64_t b = memory.shape(0), s = memory.shape(1), d = cfg.d_model, q = cfg.num_queries;
  const Dtype dtype = memory.dtype();
  if (s < q) {
    fail(kFn, "two-stage queries need at least num_queries (" + std::to_string(q) +
                  ") encoder tokens, got " + std::to_string(s) + " for levels of memory " +
                  shape_str(memory.shape()));
  }
  // Token centres in the image's own [0, 1] frame, and the side per level.
  const array centres = squeeze(slice_axis(enc_ref, 2, 0, 1), {2}) / slice_axis(ratios, 1, 0, 1);
  std::vector<double> side;
  side.reserve(static_cast<size_t>(s));
  for (size_t l = 0; l < shapes.size(); ++l) {
    side.insert(side.end(), static_cast<size_t>(shapes[l].first * shapes[l].second),
                0.05 * std::pow(2.0, static_cast<double>(l)));
  }
  const array wh = broadcast_to(
      astype(reshape(array(side, {s}, float64), {1, s, 1}), dtype), {b, s, 2});
  const array proposals = concatenate({centres, wh}, -1);  // [B, S, 4]
  const array lo = array(0.01, dtype), hi = array(0.99, dtype);
  const array valid =
      logical_and(logical_not(padding), all(logical_and(proposals > lo, proposals < hi), -1));
  const array zero = zeros({}, dtype);
  const array proposal_logit = where(expand_dims(valid, -1), inverse_sigmoid(proposals), zero);

  array out = where(expand_dims(valid, -1), memory, zero);
  out = layer_norm(kFn, params, "transformer.enc_output_norm",
                   linear(kFn, params, "transformer.enc_output", out));
  const array logits = linear(kFn, params, "enc_class_embed", out);
  const array box_logit = box_mlp(params, "enc_bbox_embed", out) + proposal_logit;

  TwoStageQueries r;
  r.proposals = {logits, sigmoid(box_logit), centres, valid};
  // The best tokens by their top class; the selection carries no gradient.
  const array score =
      where(valid, max(stop_gradient(logits), -1), full({}, array(-1e9), dtype));
  const array index = topk(score, q, 1).second;  // [B, Q]
  r.reference = stop_gradient(take_along_axis(box_logit, expand_dims(index, -1), 1));
  const array embedded = proposal_sine_embedding(sigmoid(r.reference), d / 2);
  const array qp = layer_norm(kFn, params, "transformer.pos_trans_norm",
                              linear(kFn, params, "transformer.pos_trans", embedded));
  r.query_pos = slice_axis(qp, 2, 0, d);
  r.tgt = slice_axis(qp, 2, d, 2 * d);
  return r;
}

}  // namespace mfx::detr::detail
