// Shared input checks and helpers of the detection criteria (internal).
#pragma once

#include <string>

#include "mfx/criteria/criteria.h"

namespace mfx::criteria::detail {

/// Throws "[fn] what" as std::invalid_argument.
[[noreturn]] void fail(const std::string& fn, const std::string& what);

/// Checks a non-null floating array of the given rank.
void check_floating(const std::string& fn, const char* name, const array& a, int ndim);

/// Checks one layer's logits [B, N, K] and boxes [B, N, 4] against the
/// targets (labels [B, M] integer, boxes [B, M, 4] floating, mask [B, M]
/// bool). `layer` < 0 omits the layer from messages.
void check_layer(const std::string& fn, const array& logits, const array& boxes, const Targets& t,
                 int layer = -1);

/// Checks the per-layer lists (same non-zero length; hidden too when
/// `need_hidden`) and every layer's shapes against the first one and the
/// targets.
void check_outputs(const std::string& fn, const DecoderOutputs& out, const Targets& t,
                   bool need_hidden);

/// Targets whose padded entries hold label 0 and the box (0.5, 0.5, 1, 1),
/// so padded values (even NaN) never reach a loss or its gradient.
Targets sanitize(const Targets& t);

/// The normaliser on the host: in.num_boxes_value (read; a scalar) or
/// in.num_boxes (either must be positive and finite), else the number of
/// real ground truths, at least 1. `fn` names the caller in errors.
double num_boxes(const std::string& fn, const Targets& t, const StepInputs& in);
/// The same as a 0-d array of `dtype`, computed without reading values on
/// the host (so the match-free loss stays traceable by jit).
array num_boxes_array(const std::string& fn, const Targets& t, const std::optional<double>& given,
                      Dtype dtype);

/// x^gamma, with gamma = 2 as a plain square (exact, and a clean gradient).
array pow_gamma(const array& x, double gamma);

/// focal_class_cost from the class logits already gathered at each ground
/// truth's label: z [B, N, M] -> [B, M, N].
array focal_cost_of_gathered(const array& z, double alpha, double gamma);

/// The matching cost [B, M, N] from its parts (focal class cost, pairwise
/// L1 and GIoU): w.cls * focal + w.l1 * l1 - w.giou * giou, rows of padded
/// ground truths (mask [B, M] false) set to 0. matching_cost and the
/// match-free criterion share it, so both produce the same values.
array combine_cost(const array& focal, const array& l1, const array& giou, const array& mask,
                   const CostWeights& w);

/// The ground-truth side of the probe's attention logits, computed once for
/// all decoder layers. With E_q = relu(q W0^T + b0) W1^T + b1 (MLP_q), the
/// logits (E_gt W_Q)(E_q W_K)^T / sqrt(width) equal
///   proj relu(q W0^T + b0)^T + bias,
///   proj = (E_gt W_Q W_K^T W1) / sqrt(width) [B, M, width],
///   bias = (E_gt W_Q W_K^T b1^T) / sqrt(width) [B, M, 1],
/// so the query side (B x N rows) needs a single Linear layer instead of
/// three [width, width] products; the other products are on the few ground
/// truths.
struct ProbeKeys {
  array proj, bias;  // unscaled: scores = (u proj^T + bias) * scale
  double scale = 1.0;
  array gt;  // E_gt W_Q [B, M, width]: the Cosine logits' Q (lazy, unused otherwise)
};

/// Validates the probe against K classes and hidden size D and computes the
/// ground-truth side for sanitized targets `s`. `fn` names the caller.
ProbeKeys probe_keys(const std::string& fn, const Tree& probe, const Targets& s, int64_t K,
                     int64_t D);

/// The first layer of MLP_q on the query inputs [hidden, box,
/// sigmoid(logits)] (stopped when `stop_inputs`): relu(q W0^T + b0) [B, N, W].
array probe_query_features(const Tree& probe, const ProbeKeys& keys, const array& logits,
                           const array& boxes, const array& hidden, bool stop_inputs);

/// The probe's logits [B, M, N] of one decoder layer from the query
/// features u: Scaled as the paper, Cosine (probe_variants.cpp) otherwise.
array probe_scores(const Tree& probe, const ProbeKeys& keys, const array& u,
                   const MatchFreeConfig& cfg);

/// Cosine logits s * cos(Q_i, K_j), Q = keys.gt, K = MLP_q(.) W_K from u.
array cosine_scores(const Tree& probe, const ProbeKeys& keys, const array& u, double scale);

/// A and log A [B, M, N] of one decoder layer; rows of padded ground truths
/// (mask false) are 0 in A and -inf in log A. log A is lazy: only a greedy
/// selection evaluates it.
struct ProbeAttention {
  array attention, log_attention;
};
ProbeAttention probe_attention_with(const Tree& probe, const ProbeKeys& keys, const array& logits,
                                    const array& boxes, const array& hidden, const array& mask,
                                    const MatchFreeConfig& cfg);

/// Softmax or Sinkhorn attention from the probe's logits (cfg.attention).
ProbeAttention attention_from_scores(const array& scores, const array& mask,
                                     const MatchFreeConfig& cfg);

}  // namespace mfx::criteria::detail
