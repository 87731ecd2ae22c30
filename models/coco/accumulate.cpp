// Precision / recall tables over images: COCOeval.accumulate.
#include <algorithm>
#include <limits>
#include <numeric>

#include "mfx/coco/eval.h"

namespace mfx::coco {

namespace {

// np.spacing(1): the distance from 1.0 to the next double, guarding 0 / 0.
constexpr double kEps = std::numeric_limits<double>::epsilon();

struct Pool {
  std::vector<double> scores;   // [N] sorted descending
  std::vector<uint8_t> tp, fp;  // [T x N]
};

// Pools the first max_det detections of each image (images in id order),
// stable-sorted by descending score, and classifies them at each threshold.
Pool pool_detections(const std::vector<const ImageEval*>& evs, size_t T, int64_t max_det) {
  std::vector<double> scores;
  std::vector<std::pair<const ImageEval*, size_t>> src;  // (image eval, detection)
  for (const ImageEval* e : evs) {
    size_t n = std::min(e->dt_scores.size(), static_cast<size_t>(max_det));
    for (size_t d = 0; d < n; ++d) {
      scores.push_back(e->dt_scores[d]);
      src.emplace_back(e, d);
    }
  }
  const size_t N = scores.size();
  std::vector<size_t> order(N);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  Pool pool;
  pool.scores.resize(N);
  pool.tp.assign(T * N, 0);
  pool.fp.assign(T * N, 0);
  for (size_t j = 0; j < N; ++j) {
    auto [e, d] = src[order[j]];
    pool.scores[j] = scores[order[j]];
    const size_t D = e->dt_scores.size();
    for (size_t t = 0; t < T; ++t) {
      bool matched = e->dt_matches[t * D + d] != 0;
      bool ignored = e->dt_ignore[t * D + d] != 0;
      pool.tp[t * N + j] = matched && !ignored;
      pool.fp[t * N + j] = !matched && !ignored;
    }
  }
  return pool;
}

}  // namespace

Accumulated accumulate(const ImageEvals& evals) {
  Accumulated acc;
  acc.params = evals.params;
  acc.category_ids = evals.category_ids;
  const EvalParams& p = acc.params;
  const size_t T = p.iou_thrs.size(), R = p.rec_thrs.size(), K = evals.category_ids.size();
  const size_t A = p.area_ranges.size(), M = p.max_dets.size(), I = evals.image_ids.size();
  acc.T = T, acc.R = R, acc.K = K, acc.A = A, acc.M = M;
  acc.precision.assign(T * R * K * A * M, -1.0);
  acc.recall.assign(T * K * A * M, -1.0);
  acc.scores.assign(T * R * K * A * M, -1.0);

  std::vector<double> rc, pr;
  for (size_t k = 0; k < K; ++k) {
    for (size_t a = 0; a < A; ++a) {
      std::vector<const ImageEval*> evs;
      for (size_t i = 0; i < I; ++i) {
        const auto& e = evals.evals[(k * A + a) * I + i];
        if (e) evs.push_back(&*e);
      }
      if (evs.empty()) continue;
      size_t npig = 0;
      for (const ImageEval* e : evs) {
        for (uint8_t ig : e->gt_ignore) npig += ig == 0;
      }
      // No ground truth to find: precision and recall stay -1 (absent).
      if (npig == 0) continue;

      for (size_t m = 0; m < M; ++m) {
        Pool pool = pool_detections(evs, T, p.max_dets[m]);
        const size_t N = pool.scores.size();
        for (size_t t = 0; t < T; ++t) {
          rc.resize(N);
          pr.resize(N);
          // Cumulative counts are small integers, exact in double.
          double tp = 0, fp = 0;
          for (size_t j = 0; j < N; ++j) {
            tp += pool.tp[t * N + j];
            fp += pool.fp[t * N + j];
            rc[j] = tp / static_cast<double>(npig);
            pr[j] = tp / (fp + tp + kEps);
          }
          acc.recall[((t * K + k) * A + a) * M + m] = N ? rc.back() : 0.0;
          // Interpolated precision: the maximum precision at any higher recall.
          for (size_t j = N; j-- > 1;) {
            if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          }
          // Recall points beyond the reached recall keep precision 0 (the
          // first index past the end stops pycocotools' fill loop).
          for (size_t r = 0; r < R; ++r) {
            size_t at = (((t * R + r) * K + k) * A + a) * M + m;
            acc.precision[at] = 0.0;
            acc.scores[at] = 0.0;
          }
          for (size_t r = 0; r < R; ++r) {
            size_t idx = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), p.rec_thrs[r]) -
                                             rc.begin());
            if (idx >= N) break;
            size_t at = (((t * R + r) * K + k) * A + a) * M + m;
            acc.precision[at] = pr[idx];
            acc.scores[at] = pool.scores[idx];
          }
        }
      }
    }
  }
  return acc;
}

}  // namespace mfx::coco
