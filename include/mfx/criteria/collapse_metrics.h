// Collapse metrics of the match-free criterion (an extension beyond the
// paper, for diagnosis): does the probe's attention A send several ground
// truths to one query, are its rows one-hot, and does the detector's
// top-scoring query stop depending on the image?
//
// Counts are gathered per batch on the host (small arrays: argmax per row)
// and summed, then turned into fractions, so a validation pass can add up
// its batches.
#pragma once

#include <cstdint>
#include <vector>

#include "mfx/array.h"

namespace mfx::criteria {

/// Row maxima of A above this count as saturated (one-hot) rows.
inline constexpr double collapse_saturation = 0.99;

/// Raw counts of one or more batches.
struct CollapseCounts {
  int64_t gts = 0;         ///< real ground truths seen
  int64_t shared_gts = 0;  ///< real GTs whose selected query another real GT of the image selects
  int64_t distinct_queries = 0;  ///< sum over images of their distinct selected queries
  int64_t saturated_rows = 0;    ///< real GT rows with max A > collapse_saturation
  /// Per image in order, the index of its top-scoring query.
  std::vector<int64_t> top_queries;

  CollapseCounts& operator+=(const CollapseCounts& other);
};

/// Counts of one batch. A GT's selected query is the argmax of its row of
/// `attention` [B, M, N] (the probe's A, before any selection, so the
/// numbers describe the probe whatever selection rule follows; the first
/// index on ties); `mask` [B, M] bool marks real GTs. An image's top-scoring
/// query is the argmax over queries of its highest class logit in
/// `class_logits` [B, N, K] (sigmoid scores rank the same). Evaluates the
/// inputs. Throws std::invalid_argument ("[collapse_counts]") for mismatched
/// shapes or dtypes.
CollapseCounts collapse_counts(const array& attention, const array& mask,
                               const array& class_logits);

/// The fractions logged per evaluation; NaN where the denominator is 0.
struct CollapseMetrics {
  double shared_query_fraction = 0;    ///< shared_gts / gts (0 = no query shared)
  double distinct_queries_per_gt = 0;  ///< distinct_queries / gts (1 = one query each)
  /// Images whose top query is the most common top query / images (1/images
  /// for a detector whose top query varies, 1 for a collapsed one).
  double top_query_mode_fraction = 0;
  double saturated_row_fraction = 0;  ///< saturated_rows / gts
};

CollapseMetrics collapse_metrics(const CollapseCounts& counts);

}  // namespace mfx::criteria
