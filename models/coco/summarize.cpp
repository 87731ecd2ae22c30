// The 12 summary numbers: COCOeval.summarize for bbox.
#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "mfx/coco/eval.h"

namespace mfx::coco {

namespace {

// numpy's pairwise summation of a contiguous float64 array (np.add.reduce),
// so that np.mean's rounding is reproduced exactly.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// Indices pairing numpy's advanced indexing s[..., aind, mind]: equal-length
// lists zip, a single index broadcasts.
std::vector<std::pair<size_t, size_t>> pair_indices(const std::vector<size_t>& aind,
                                                    const std::vector<size_t>& mind) {
  std::vector<std::pair<size_t, size_t>> out;
  if (aind.empty() || mind.empty()) return out;
  size_t n = std::max(aind.size(), mind.size());
  if ((aind.size() != n && aind.size() != 1) || (mind.size() != n && mind.size() != 1)) {
    throw std::invalid_argument("[coco::summarize] ambiguous area labels or max_dets");
  }
  for (size_t i = 0; i < n; ++i) {
    out.emplace_back(aind[aind.size() == 1 ? 0 : i], mind[mind.size() == 1 ? 0 : i]);
  }
  return out;
}

// Mean of the entries > -1 of one slice (AP: precision, AR: recall), or -1.
double summarize_one(const Accumulated& acc, bool ap, std::optional<double> iou_thr,
                     const std::string& area, int64_t max_dets) {
  const EvalParams& p = acc.params;
  std::vector<size_t> tind, aind, mind;
  for (size_t t = 0; t < p.iou_thrs.size(); ++t) {
    if (!iou_thr || p.iou_thrs[t] == *iou_thr) tind.push_back(t);
  }
  for (size_t a = 0; a < p.area_ranges.size(); ++a) {
    if (p.area_ranges[a].label == area) aind.push_back(a);
  }
  for (size_t m = 0; m < p.max_dets.size(); ++m) {
    if (p.max_dets[m] == max_dets) mind.push_back(m);
  }
  auto am = pair_indices(aind, mind);
  // Row-major order of the sliced numpy array: t, (r), k, then the pair.
  std::vector<double> kept;
  const size_t R = ap ? acc.R : 1;
  for (size_t t : tind) {
    for (size_t r = 0; r < R; ++r) {
      for (size_t k = 0; k < acc.K; ++k) {
        for (auto [a, m] : am) {
          double v = ap ? acc.precision_at(t, r, k, a, m) : acc.recall_at(t, k, a, m);
          if (v > -1) kept.push_back(v);
        }
      }
    }
  }
  if (kept.empty()) return -1.0;
  return pairwise_sum(kept.data(), kept.size()) / static_cast<double>(kept.size());
}

struct Line {
  bool ap;
  std::optional<double> iou;
  const char* area;
  int max_det_index;  // -1: the fixed 100 of pycocotools' first line
};

// pycocotools' _summarizeDets table.
constexpr int kFixed100 = -1;
const Line kLines[12] = {
    {true, std::nullopt, "all", kFixed100},
    {true, 0.5, "all", 2},
    {true, 0.75, "all", 2},
    {true, std::nullopt, "small", 2},
    {true, std::nullopt, "medium", 2},
    {true, std::nullopt, "large", 2},
    {false, std::nullopt, "all", 0},
    {false, std::nullopt, "all", 1},
    {false, std::nullopt, "all", 2},
    {false, std::nullopt, "small", 2},
    {false, std::nullopt, "medium", 2},
    {false, std::nullopt, "large", 2},
};

int64_t line_max_dets(const Line& line, const EvalParams& p) {
  return line.max_det_index == kFixed100 ? 100 : p.max_dets[line.max_det_index];
}

void check_max_dets(const EvalParams& p, const char* op) {
  if (p.max_dets.size() < 3) {
    throw std::invalid_argument(
        fmt::format("[{}] needs at least 3 max_dets, got {}", op, p.max_dets.size()));
  }
}

}  // namespace

std::array<double, 12> summarize(const Accumulated& acc) {
  check_max_dets(acc.params, "coco::summarize");
  std::array<double, 12> stats{};
  for (size_t i = 0; i < 12; ++i) {
    const Line& l = kLines[i];
    stats[i] = summarize_one(acc, l.ap, l.iou, l.area, line_max_dets(l, acc.params));
  }
  return stats;
}

std::string format_summary(const std::array<double, 12>& stats, const EvalParams& params) {
  check_max_dets(params, "coco::format_summary");
  if (params.iou_thrs.empty()) {
    throw std::invalid_argument("[coco::format_summary] iou_thrs must be non-empty");
  }
  std::string out;
  for (size_t i = 0; i < 12; ++i) {
    const Line& l = kLines[i];
    std::string iou =
        l.iou ? fmt::format("{:0.2f}", *l.iou)
              : fmt::format("{:0.2f}:{:0.2f}", params.iou_thrs.front(), params.iou_thrs.back());
    out += fmt::format(" {:<18} {} @[ IoU={:<9} | area={:>6} | maxDets={:>3} ] = {:0.3f}\n",
                       l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)", iou,
                       l.area, line_max_dets(l, params), stats[i]);
  }
  return out;
}

}  // namespace mfx::coco
