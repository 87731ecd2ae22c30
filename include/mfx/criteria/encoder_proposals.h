// Dense proposals of a two-stage detector's encoder and their loss, which
// needs no matching: each token is assigned by where its centre falls.
#pragma once

#include <utility>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx::criteria {

struct Targets;

/// One proposal per encoder token (S = the tokens of all levels).
struct EncoderProposals {
  array logits;   ///< [B, S, K] class logits (sigmoid)
  array boxes;    ///< [B, S, 4] cxcywh in [0, 1]
  array centres;  ///< [B, S, 2] the token's (x, y) centre, normalised by the image's valid size
  array valid;    ///< [B, S] bool: a real token (not padding, not at the image border)
};

/// Weights of encoder_proposal_loss (those of the decoder's set loss).
struct EncoderLossConfig {
  double w_ce = 2, w_bbox = 5, w_giou = 2, alpha = 0.25, gamma = 2;
};

/// The proposals' loss, FCOS-style and matching-free: a valid token whose
/// centre lies strictly inside a real ground-truth box is a positive of the
/// smallest such box (its class one-hot, its box the target); other valid
/// tokens are negatives (all classes 0); invalid tokens do not count.
///   loss = w_ce * sum(sigmoid focal loss over valid tokens x classes) / P
///        + w_bbox * sum(L1 of positives' boxes) / P
///        + w_giou * sum(1 - GIoU of positives' boxes) / P,
/// with P = max(1, number of positives of the batch) computed on the device
/// (no host read, so jit traces it). Components "loss_enc_ce",
/// "loss_enc_bbox", "loss_enc_giou" (unweighted, divided by P) and
/// "enc_positives" (P). Gradients reach logits and boxes only. Throws
/// std::invalid_argument ("[encoder_proposal_loss] ...") naming the shapes
/// when they disagree with each other or with the targets.
std::pair<array, Tree> encoder_proposal_loss(const EncoderProposals& p, const Targets& t,
                                             const EncoderLossConfig& cfg = {});

}  // namespace mfx::criteria
