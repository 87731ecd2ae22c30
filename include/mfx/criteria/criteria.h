// Detection training criteria for DETR-style models (Deformable DETR
// conventions: sigmoid classification without a background class, boxes in
// normalised (cx, cy, w, h)).
//
// Two criteria over the outputs of every decoder layer:
//  - hungarian_criterion: the baseline. Per layer and image an exact optimal
//    one-to-one assignment of ground truths to queries, then sigmoid focal
//    loss, L1 and 1 - GIoU on the matched pairs (Deformable DETR's
//    SetCriterion, numerics included).
//  - matchfree_criterion: the match-free CAQS loss. A learned probe gives a
//    soft ground-truth x query attention A; a sparse correspondence Â derived
//    from it replaces the assignment, and A itself is trained to put its mass
//    on cheap pairs (see docs/design.md §6.3 for the exact definition followed here).
//
// Everything is built from mfx ops, so mfx::grad differentiates the losses
// (the assignment and Â are constants). Inputs are float32 or float64.
// Errors are std::invalid_argument naming the function and the shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mfx/array.h"
#include "mfx/criteria/encoder_proposals.h"
#include "mfx/criteria/step_inputs.h"
#include "mfx/tree.h"

namespace mfx::criteria {

/// Predictions of the decoder, one entry per decoder layer (all layers have
/// the same shapes).
struct DecoderOutputs {
  std::vector<array> logits;  ///< [B, N, K] class logits (sigmoid, no background class)
  std::vector<array> boxes;   ///< [B, N, 4] cxcywh in [0, 1] (already through sigmoid)
  std::vector<array> hidden;  ///< [B, N, D] decoder hidden states (match-free probe only)
  /// The encoder's dense proposals of a two-stage model (detr::
  /// DeformableDetrConfig::two_stage); absent for the plain model.
  std::optional<EncoderProposals> encoder;
};

/// Ground truths of a batch padded to a common count M (a bucket).
struct Targets {
  array labels;  ///< [B, M] int32 class ids in [0, K); padded entries are ignored
  array boxes;   ///< [B, M, 4] cxcywh normalised; padded entries are ignored
  array mask;    ///< [B, M] bool, true = real ground truth
};

/// Padding bucket for a ground-truth count, so jit sees few distinct shapes:
/// the smallest of 8, 16, 32, 64, ... that is >= max_count (8 for 0).
/// Throws std::invalid_argument for a negative count.
int64_t gt_bucket(int64_t max_count);

/// Pads per-image ground truths (labels [M_b] integer, boxes [M_b, 4]
/// floating) to `bucket` entries: labels int32 padded with 0, boxes (in the
/// dtype of the first image's boxes, float32 when there is none) padded
/// with the box (0.5, 0.5, 1, 1), mask true for the first M_b entries. Throws
/// when the lists differ in length, shapes are wrong, dtypes are not integer
/// / floating, or some M_b exceeds `bucket`.
Targets pad_targets(const std::vector<array>& labels, const std::vector<array>& boxes,
                    int64_t bucket);

/// Weights of the matching cost and the focal parameters.
struct CostWeights {
  double cls = 2, l1 = 5, giou = 2, alpha = 0.25, gamma = 2;
};

// ------------------------------------------------------------ components

/// Focal class cost of Deformable DETR's matcher, [B, M, N] for logits
/// [B, N, K] and labels [B, M]: pos - neg at each ground truth's class, with
/// p = sigmoid(z), pos = alpha (1-p)^gamma (-log(p + 1e-8)) and
/// neg = (1-alpha) p^gamma (-log(1-p + 1e-8)). Labels outside [0, K) throw
/// at evaluation.
array focal_class_cost(const array& logits, const array& labels, double alpha, double gamma);

/// Pairwise L1 distance of cxcywh boxes: pred [B, N, 4], gt [B, M, 4] ->
/// [B, M, N] (torch.cdist with p = 1).
array l1_cost(const array& pred_boxes, const array& gt_boxes);

/// Pairwise generalized IoU of cxcywh boxes: pred [B, N, 4], gt [B, M, 4] ->
/// [B, M, N] (the matcher's cost is its negative).
array pairwise_giou(const array& pred_boxes, const array& gt_boxes);

/// C[B, M, N] (ground truths x queries): exactly the Hungarian matching cost
/// w.cls * focal_class_cost + w.l1 * l1_cost - w.giou * pairwise_giou, with
/// the rows of padded ground truths (mask false) set to 0.
array matching_cost(const array& logits, const array& boxes, const Targets& t,
                    const CostWeights& w);

/// Elementwise focal terms computed stably from logits z:
/// FL+(z) = alpha (1 - sigmoid z)^gamma (-log sigmoid z) (the loss of a
/// positive) and FL-(z) = (1 - alpha) (sigmoid z)^gamma (-log(1 - sigmoid z))
/// (the loss of a negative).
array focal_positive(const array& logits, double alpha, double gamma);
array focal_negative(const array& logits, double alpha, double gamma);

/// Elementwise sigmoid focal loss (Lin et al.) for targets in [0, 1] of the
/// logits' shape (broadcast), as in Deformable DETR before its reduction:
/// alpha_t * BCE_with_logits(z, t) * (1 - p_t)^gamma. Summing it and dividing
/// by num_boxes gives SetCriterion's loss_ce.
array sigmoid_focal_loss(const array& logits, const array& targets, double alpha, double gamma);

// ------------------------------------------------------------ criteria

/// A loss and its parts for logging (per layer i: "loss_ce_i", "loss_bbox_i",
/// "loss_giou_i", unweighted and divided by num_boxes; match-free adds "L_w_i",
/// "L_q_i" and "selected_per_gt_i", an int32 [B, M] count of the queries
/// selected for each ground truth).
struct LossResult {
  array loss;
  Tree components;
};

/// Settings of hungarian_criterion (per-step values such as num_boxes come
/// in StepInputs).
struct HungarianConfig {
  CostWeights cost;
  double w_ce = 2, w_bbox = 5, w_giou = 2;
};

/// Optimal assignment of each image's real ground truths to queries for
/// one layer: result[b] lists (gt, query) pairs as two vectors, gt indices
/// being positions in the padded M axis. Evaluates the matching cost (no
/// gradient). Any mask pattern is allowed, not only prefixes. Throws
/// std::domain_error when a real row's cost contains NaN (non-finite model
/// outputs, e.g. a diverged training run).
struct Matching {
  std::vector<int64_t> gts;
  std::vector<int64_t> queries;
};
std::vector<Matching> hungarian_match(const array& logits, const array& boxes, const Targets& t,
                                      const CostWeights& w);

/// Deformable DETR's SetCriterion summed over decoder layers: per layer, the
/// matching cost is evaluated and solved per image on the host, then
/// w_ce * sum(sigmoid_focal_loss over all queries x classes with one-hot
/// targets of the matched pairs) + w_bbox * sum(L1 of matched pairs) +
/// w_giou * sum(1 - GIoU of matched pairs), each divided by num_boxes
/// (StepInputs; its fixed_assignment is not used). Gradients flow to logits
/// and boxes (not through the matching). Hidden states are not used and may
/// be omitted.
LossResult hungarian_criterion(const DecoderOutputs& out, const Targets& t,
                               const HungarianConfig& cfg, const StepInputs& in = {});

/// Parameters of the ground-truth probe (float `dtype`):
///   mlp_gt: [Linear(K+4 -> width), Linear(width -> width)] (ReLU between),
///   mlp_q:  [Linear(D+4+K -> width), Linear(width -> width)],
///   w_q, w_k: [width, width].
/// Linear layers are {"weight": [out, in], "bias": [out]} like torch, all
/// initialised uniform in +-1/sqrt(fan_in) (torch.nn.Linear's default; fan_in
/// = width for w_q and w_k). Deterministic in `key`.
Tree init_probe(const array& key, int64_t num_classes, int64_t hidden_dim, int64_t width = 256,
                Dtype dtype = float32);

/// Settings of matchfree_criterion (per-step values such as num_boxes and a
/// fixed assignment come in StepInputs).
struct MatchFreeConfig {
  CostWeights cost;
  /// Row-filter / column-threshold ratio and the normaliser's epsilon.
  double rho = 0.5, eps = 1e-6;
  /// Row normalisation of Â: divide by the row sum + eps, by the row max +
  /// eps, or not at all.
  enum class Norm { Sum, Max, None } norm = Norm::Sum;
  /// L = alpha_w * L_w + beta_q * L_q.
  double alpha_w = 1, beta_q = 1;
  /// Weights of the classification, L1 and GIoU parts of L_q.
  double w_ce = 2, w_bbox = 5, w_giou = 2;
  /// Stop gradients at the probe's query inputs (hidden, box, probability).
  bool probe_inputs_stop_gradient = true;

  // Extensions beyond the paper. The paper's loss collapses: its probe
  // logits grow without bound, the per-row softmax turns one-hot and nothing
  // stops every ground truth from picking the same query. The defaults are
  // the paper's loss; the other values are cures for that collapse.

  /// Extension beyond the paper: the probe's logits. Scaled (the paper):
  /// (E_gt W_Q)(E_q W_K)^T / sqrt(width). Cosine: cosine_scale * cos(Q_i, K_j)
  /// with Q = E_gt W_Q and K = E_q W_K, rows L2-normalised, so the logits are
  /// bounded by cosine_scale and the softmax cannot saturate.
  enum class ProbeLogits { Scaled, Cosine } probe_logits = ProbeLogits::Scaled;
  /// Extension beyond the paper: s of the Cosine logits (positive, finite).
  double cosine_scale = 10;
  /// Extension beyond the paper: how A is made from the logits. Softmax (the
  /// paper): per ground-truth row over queries. Sinkhorn: sinkhorn_iters
  /// rounds of log-space row normalisation (every real GT row sums to 1)
  /// and column capping (every query column sums to <= 1), then a final row
  /// normalisation (sinkhorn_log_attention); L_w differentiates through the
  /// rounds, and two GTs cannot both put all their mass on one query.
  enum class Attention { Softmax, Sinkhorn } attention = Attention::Softmax;
  /// Extension beyond the paper: rounds of the Sinkhorn attention (>= 1).
  int sinkhorn_iters = 30;
  /// Extension beyond the paper: how Â is derived from A. Threshold (the
  /// paper): sparse_correspondence with rho, eps and norm. Greedy:
  /// greedy_selection on log A, one query per real GT and no query shared
  /// (rho, eps and norm are then unused).
  enum class Selection { Threshold, Greedy } selection = Selection::Threshold;
};

/// Names of the variant values as the train_coco flags and checkpoint JSON
/// spell them ("scaled" / "cosine", "softmax" / "sinkhorn", "threshold" /
/// "greedy", "sum" / "max" / "none"), and their inverses, which throw
/// std::invalid_argument naming `field` and the accepted names.
const char* to_string(MatchFreeConfig::ProbeLogits v);
const char* to_string(MatchFreeConfig::Attention v);
const char* to_string(MatchFreeConfig::Selection v);
const char* to_string(MatchFreeConfig::Norm v);
MatchFreeConfig::ProbeLogits parse_probe_logits(const std::string& name,
                                                const std::string& field = "probe_logits");
MatchFreeConfig::Attention parse_attention(const std::string& name,
                                           const std::string& field = "attention");
MatchFreeConfig::Selection parse_selection(const std::string& name,
                                           const std::string& field = "selection");
MatchFreeConfig::Norm parse_norm(const std::string& name, const std::string& field = "norm");

/// The variant in one line for logs and reports, e.g. "paper (scaled
/// logits, softmax, threshold)" or "cosine(s=10) sinkhorn(T=30) greedy".
std::string matchfree_variant(const MatchFreeConfig& cfg);

/// Checks the scalar settings of cfg (rho in (0, 1]; eps, alpha_w, beta_q
/// >= 0; cosine_scale positive and finite; sinkhorn_iters >= 1; the enums
/// in range). Throws std::invalid_argument "[fn] <field> ..." naming the
/// field and its value.
void validate_matchfree_config(const MatchFreeConfig& cfg,
                               const std::string& fn = "matchfree_criterion");

/// The probe's attention A[B, M, N]: softmax over queries of
/// (E_gt W_Q)(E_q W_K)^T / sqrt(width), E_gt = MLP_gt([onehot(label), box]),
/// E_q = MLP_q([hidden, box, sigmoid(logits)]); rows of padded ground truths
/// are 0. Computed in the probe's dtype. With stop_inputs the query inputs
/// carry no gradient. The products are reassociated (same function, other
/// rounding): MLP_q's second layer and W_K act on the ground-truth side, so
/// the B x N query rows go through one Linear layer only.
array probe_attention(const Tree& probe, const array& logits, const array& boxes,
                      const array& hidden, const Targets& t, bool stop_inputs = true);

/// The probe's logits [B, M, N] of the variant cfg.probe_logits (Scaled:
/// (E_gt W_Q)(E_q W_K)^T / sqrt(width); Cosine: cfg.cosine_scale * cos),
/// query inputs stopped when cfg.probe_inputs_stop_gradient. Rows of padded
/// ground truths hold their (meaningless) logits; the attention masks them.
array probe_logits(const Tree& probe, const array& logits, const array& boxes, const array& hidden,
                   const Targets& t, const MatchFreeConfig& cfg);

/// The probe's attention A[B, M, N] as matchfree_criterion computes it for
/// cfg: cfg.probe_logits, then the softmax or the Sinkhorn attention
/// (cfg.attention); rows of padded ground truths are 0. With the defaults
/// it equals probe_attention(..., cfg.probe_inputs_stop_gradient).
array probe_attention(const Tree& probe, const array& logits, const array& boxes,
                      const array& hidden, const Targets& t, const MatchFreeConfig& cfg);

/// Extension beyond the paper: the Sinkhorn attention in log space. From
/// logits [B, M, N] and mask [B, M] (true = real ground truth), `iters`
/// rounds of
///   x <- x - logsumexp_j x            (every real GT row sums to 1),
///   x <- x - max(0, logsumexp_i x)    (over real GTs: every query column
///                                      sums to <= 1),
/// then a final row normalisation. Returns log A, -inf on padded rows (A =
/// exp of it is 0 there). With M <= N real GTs the columns converge to sums
/// <= 1; with more GTs than queries only the rows are normalised in the end.
/// Plain array ops: grad and jit go through the rounds. Throws
/// std::invalid_argument for bad shapes or iters < 1.
array sinkhorn_log_attention(const array& logits, const array& mask, int iters);

/// Extension beyond the paper: greedy one-to-one selection, a constant Â
/// [B, M, N] (no gradient). Per image, repeatedly the largest remaining
/// entry of `scores` [B, M, N] (log A or logits: never A itself, whose
/// float32 entries saturate to exactly 1 and would tie) among real GTs
/// (mask [B, M]) is selected (Â = 1) and its row and column removed, until
/// every real GT or every query is taken: min(M, N) rounds of array ops, so
/// it runs under jit with no host round trip. Exact ties go to the lowest
/// flat index (GT-major). With more real GTs than queries the GTs left over
/// get an all-zero row: no positive and no box term in L_q.
array greedy_selection(const array& scores, const array& mask);

/// Sparse correspondence Â from an attention A[..., M, N] (a constant: no
/// gradient): row filter R = A where A >= rho * rowmax(A) else 0; column
/// threshold S = R where R > 0 and R >= rho * colmax(R) else 0; then each
/// row divided by its sum + eps (Sum), its max + eps (Max) or kept (None).
array sparse_correspondence(const array& attention, double rho, double eps,
                            MatchFreeConfig::Norm norm);

/// The match-free (CAQS) criterion summed over decoder layers, per layer
///   L_w = sum_ij A_ij sg(C_ij),
///   L_q = w_ce [sum_ij Â_ij FL+(z_{j,c_i}) + sum_jk (1 - y_jk) FL-(z_jk)]
///         + sum_ij Â_ij (w_bbox |b_j - g_i|_1 + w_giou (1 - GIoU(b_j, g_i))),
/// both divided by num_boxes (StepInputs), L = alpha_w L_w + beta_q L_q;
/// y_jk = 1 when query j is selected (Â > 0) for a real ground truth of class k. C is the
/// matching_cost (stop-gradient), Â is constant, and A sees the detector only
/// when probe_inputs_stop_gradient is false. With a one-hot Â
/// (StepInputs::fixed_assignment) L_q equals the Hungarian loss of that
/// assignment.
/// Nothing is read on the host (num_boxes is computed as an array), so the
/// criterion can be traced by jit; the padded M only costs compute.
/// The variant fields (extensions beyond the paper) replace the logits of A
/// (probe_logits), the softmax (attention: Sinkhorn, differentiated through)
/// or the sparse correspondence (selection: greedy_selection on log A, a
/// constant); all are array ops, so every variant can be traced by jit too.
LossResult matchfree_criterion(const Tree& probe, const DecoderOutputs& out, const Targets& t,
                               const MatchFreeConfig& cfg, const StepInputs& in = {});

}  // namespace mfx::criteria
