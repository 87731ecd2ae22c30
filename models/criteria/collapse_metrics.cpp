// Collapse metrics of the match-free criterion (see collapse_metrics.h): the
// reductions run as array ops, only per-row results reach the host.
#include "mfx/criteria/collapse_metrics.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/ops.h"

namespace mfx::criteria {

CollapseCounts& CollapseCounts::operator+=(const CollapseCounts& other) {
  gts += other.gts;
  shared_gts += other.shared_gts;
  distinct_queries += other.distinct_queries;
  saturated_rows += other.saturated_rows;
  top_queries.insert(top_queries.end(), other.top_queries.begin(), other.top_queries.end());
  return *this;
}

CollapseCounts collapse_counts(const array& attention, const array& mask,
                               const array& class_logits) {
  const std::string fn = "collapse_counts";
  detail::check_floating(fn, "attention", attention, 3);
  detail::check_floating(fn, "class_logits", class_logits, 3);
  const int64_t B = attention.shape(0), M = attention.shape(1), N = attention.shape(2);
  if (!mask.valid() || mask.dtype() != bool_ || mask.shape() != Shape{B, M}) {
    detail::fail(fn, "mask must be bool " + shape_str({B, M}) + " for attention " +
                         shape_str(attention.shape()) + ", got " +
                         (mask.valid() ? shape_str(mask.shape()) : std::string("null")));
  }
  if (class_logits.shape(0) != B || class_logits.shape(1) != N) {
    detail::fail(fn, "class_logits " + shape_str(class_logits.shape()) +
                         " do not match attention " + shape_str(attention.shape()) +
                         " (expected [B, N, K])");
  }
  CollapseCounts c;
  if (B == 0) return c;
  std::vector<int32_t> top = argmax(max(class_logits, -1), -1).to_vector<int32_t>();
  c.top_queries.assign(top.begin(), top.end());
  if (M == 0 || N == 0) return c;
  std::vector<int32_t> chosen = argmax(attention, -1).to_vector<int32_t>();  // [B, M]
  std::vector<double> peak = max(attention, -1).to_vector<double>();         // [B, M]
  std::vector<bool> real;
  for (int32_t m : astype(mask, int32).to_vector<int32_t>()) real.push_back(m != 0);
  for (int64_t b = 0; b < B; ++b) {
    std::map<int32_t, int64_t> per_query;  // selected query -> real GTs selecting it
    for (int64_t i = 0; i < M; ++i) {
      const size_t r = static_cast<size_t>(b * M + i);
      if (!real[r]) continue;
      ++c.gts;
      ++per_query[chosen[r]];
      if (peak[r] > collapse_saturation) ++c.saturated_rows;
    }
    c.distinct_queries += static_cast<int64_t>(per_query.size());
    for (const auto& [query, count] : per_query) {
      if (count > 1) c.shared_gts += count;
    }
  }
  return c;
}

CollapseMetrics collapse_metrics(const CollapseCounts& counts) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto ratio = [&](int64_t num, int64_t den) {
    return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : nan;
  };
  std::map<int64_t, int64_t> times;
  int64_t mode = 0;
  for (int64_t q : counts.top_queries) mode = std::max(mode, ++times[q]);
  CollapseMetrics m;
  m.shared_query_fraction = ratio(counts.shared_gts, counts.gts);
  m.distinct_queries_per_gt = ratio(counts.distinct_queries, counts.gts);
  m.top_query_mode_fraction = ratio(mode, static_cast<int64_t>(counts.top_queries.size()));
  m.saturated_row_fraction = ratio(counts.saturated_rows, counts.gts);
  return m;
}

}  // namespace mfx::criteria
