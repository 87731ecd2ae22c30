// Two-stage queries of Deformable DETR (internal): the encoder's tokens
// propose boxes and the best proposals become the decoder's queries.
#pragma once

#include "mfx/criteria/encoder_proposals.h"
#include "mfx/detr/deformable_detr.h"

namespace mfx::detr::detail {

struct TwoStageQueries {
  array query_pos;   ///< [B, Q, d]
  array tgt;         ///< [B, Q, d]
  array reference;   ///< [B, Q, 4] selected boxes before the sigmoid (no gradient)
  criteria::EncoderProposals proposals;
};

/// Every token's proposal is its centre with a side of 0.05 * 2^level, in
/// logit space, plus the delta of enc_bbox_embed on LayerNorm(enc_output(
/// memory)); enc_class_embed scores it. The Q tokens with the highest class
/// score (padding and border tokens excluded) give the references, and
/// LayerNorm(pos_trans(sine embedding of their boxes)) splits into
/// (query_pos, tgt). `enc_ref` is encoder_reference_points(shapes, ratios).
TwoStageQueries two_stage_queries(const Tree& params, const array& memory, const array& padding,
                                  const SpatialShapes& shapes, const array& ratios,
                                  const array& enc_ref, const DeformableDetrConfig& cfg);

/// Sine embedding of boxes [B, Q, 4] in [0, 1] -> [B, Q, 4 F]: per
/// coordinate v and k < F / 2, sin and cos of 2 pi v / 10000^(2k / F),
/// interleaved (the reference's get_proposal_pos_embed with F features per
/// coordinate). F must be even.
array proposal_sine_embedding(const array& boxes, int64_t features_per_coord);

}  // namespace mfx::detr::detail
