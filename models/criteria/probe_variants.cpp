// Extensions beyond the paper to the match-free probe, against its collapse
// (one-hot attention rows, every ground truth on the same query): cosine
// logits, the Sinkhorn attention and a greedy one-to-one selection. All are
// plain array ops, so grad differentiates them and jit traces them.
#include <algorithm>
#include <limits>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"
#include "mfx/linalg.h"
#include "mfx/ops.h"

namespace mfx::criteria {
namespace {

// Stand-in for -inf on padded rows inside the Sinkhorn rounds: finite, so
// the logsumexp of an image without ground truths has a finite gradient
// (0 * exp(-inf - -inf) would be NaN), and still exp() == 0 next to any
// real logit.
constexpr double kPaddedLog = -1e9;

// Rows of x L2-normalised along the last axis; the tiny term keeps a zero
// row (and its gradient) finite, and keeps |cos| < 1.
array normalize_rows(const array& x) {
  return x * rsqrt(sum(square(x), -1, true) + 1e-30);
}

void check_scores(const std::string& fn, const array& scores, const array& mask) {
  if (!scores.valid() || scores.ndim() != 3 || !is_floating(scores.dtype())) {
    detail::fail(fn, "scores must be a floating array [B, M, N], got " +
                         (scores.valid() ? shape_str(scores.shape()) + " " +
                                               std::string(dtype_name(scores.dtype()))
                                         : std::string("null")));
  }
  if (!mask.valid() || mask.dtype() != bool_ ||
      mask.shape() != Shape{scores.shape(0), scores.shape(1)}) {
    detail::fail(
        fn,
        "mask must be bool " + shape_str({scores.shape(0), scores.shape(1)}) + ", got " +
            (mask.valid() ? shape_str(mask.shape()) + " " + std::string(dtype_name(mask.dtype()))
                          : std::string("null")));
  }
}

}  // namespace

namespace detail {

array cosine_scores(const Tree& probe, const ProbeKeys& keys, const array& u, double scale) {
  // K = E_q W_K needs the query side's second layer and W_K explicitly (the
  // scaled logits fold them into the ground-truth side, but a norm of K
  // cannot be folded).
  const Tree& q1 = probe["mlp_q"][1];
  array e_q = matmul(u, transpose(q1["weight"].leaf())) + q1["bias"].leaf();  // [B, N, W]
  array k = matmul(e_q, probe.at("w_k"));
  return scale * matmul(normalize_rows(keys.gt), swapaxes(normalize_rows(k), 1, 2));
}

ProbeAttention attention_from_scores(const array& scores, const array& mask,
                                     const MatchFreeConfig& cfg) {
  array rows = expand_dims(mask, -1);
  const array neg_inf = array(-std::numeric_limits<double>::infinity(), scores.dtype());
  if (cfg.attention == MatchFreeConfig::Attention::Sinkhorn) {
    array log_a = sinkhorn_log_attention(scores, mask, cfg.sinkhorn_iters);
    return {exp(log_a), log_a};
  }
  // The paper's attention, computed exactly as before the variants existed.
  array a = softmax(scores, -1);
  return {where(rows, a, zeros({}, a.dtype())), where(rows, log_softmax(scores, -1), neg_inf)};
}

}  // namespace detail

array sinkhorn_log_attention(const array& logits, const array& mask, int iters) {
  const std::string fn = "sinkhorn_log_attention";
  check_scores(fn, logits, mask);
  if (iters < 1) detail::fail(fn, "iters must be >= 1, got " + std::to_string(iters));
  array rows = expand_dims(mask, -1);  // [B, M, 1]
  const array pad = array(kPaddedLog, logits.dtype());
  // Padded rows held at a huge negative log value: they neither take mass
  // from a column (exp() == 0 in its logsumexp) nor are normalised.
  auto normalize_rows = [&](const array& x) {
    return where(rows, x - logsumexp(x, -1, true), pad);
  };
  array x = where(rows, logits, pad);
  for (int t = 0; t < iters; ++t) {
    x = normalize_rows(x);
    // A column over budget (sum > 1) is scaled down to 1; one under budget
    // is left alone, so a query may stay partly unused.
    array col = logsumexp(x, -2, true);  // [B, 1, N]
    x = x - maximum(col, zeros({}, col.dtype()));
  }
  x = normalize_rows(x);
  return where(rows, x, array(-std::numeric_limits<double>::infinity(), x.dtype()));
}

array greedy_selection(const array& scores, const array& mask) {
  check_scores("greedy_selection", scores, mask);
  const int64_t B = scores.shape(0), M = scores.shape(1), N = scores.shape(2);
  const Dtype dt = scores.dtype();
  const array neg_inf = array(-std::numeric_limits<double>::infinity(), dt);
  array s = stop_gradient(where(expand_dims(mask, -1), scores, neg_inf));
  array selected = zeros({B, M, N}, dt);
  if (B == 0 || M == 0 || N == 0) return selected;
  const array gt_index = reshape(arange(M, int32), {1, M});
  const array query_index = reshape(arange(N, int32), {1, N});
  const array one = ones({}, dt);
  // Each round takes one pair per image; a real GT (or a query) is taken at
  // most once, so min(M, N) rounds exhaust the smaller side.
  for (int64_t round = 0; round < std::min(M, N); ++round) {
    array flat = reshape(s, {B, M * N});
    array best = argmax(flat, -1, true);  // [B, 1] int32
    // Images whose remaining entries are all -inf (taken or padded) take nothing.
    array live = take_along_axis(flat, best, -1) > neg_inf;  // [B, 1]
    array gt_hit = equal(gt_index, floor_divide(best, array(static_cast<int32_t>(N))));
    array query_hit = equal(query_index, remainder(best, array(static_cast<int32_t>(N))));
    gt_hit = logical_and(gt_hit, live);        // [B, M]
    query_hit = logical_and(query_hit, live);  // [B, N]
    array g = expand_dims(gt_hit, -1), q = expand_dims(query_hit, 1);
    selected = where(logical_and(g, q), one, selected);
    s = where(logical_or(g, q), neg_inf, s);
  }
  return stop_gradient(selected);
}

}  // namespace mfx::criteria
