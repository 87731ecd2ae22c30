// Per (image, category, area range) matching: COCOeval.evaluate with loadRes.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "mfx/coco/eval.h"

namespace mfx::coco {

namespace {

// A detection after loadRes: id = position + 1, area = w * h.
struct Det {
  int64_t id;
  BoxXYWH bbox;
  double score;
  double area;
};

// The ground truths and detections of one (image, category), in file order.
struct Cell {
  std::vector<const Annotation*> gts;
  std::vector<Det> dts;
};

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void check_params(const EvalParams& p) {
  if (p.iou_thrs.empty() || p.rec_thrs.empty() || p.area_ranges.empty()) {
    throw std::invalid_argument(
        "[coco::evaluate_images] iou_thrs, rec_thrs and area_ranges must be non-empty");
  }
  if (p.max_dets.empty()) {
    throw std::invalid_argument("[coco::evaluate_images] max_dets must be non-empty");
  }
  for (int64_t m : p.max_dets) {
    if (m <= 0) {
      throw std::invalid_argument(
          fmt::format("[coco::evaluate_images] max_dets must be positive, got {}", m));
    }
  }
}

// Detections by descending score, ties in file order (numpy's stable
// mergesort of -score), cut to max_det.
std::vector<const Det*> top_detections(const std::vector<Det>& dts, int64_t max_det) {
  std::vector<const Det*> order;
  order.reserve(dts.size());
  for (const Det& d : dts) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(),
                   [](const Det* a, const Det* b) { return a->score > b->score; });
  if (order.size() > static_cast<size_t>(max_det)) order.resize(static_cast<size_t>(max_det));
  return order;
}

bool outside(double area, const AreaRange& r) {
  return area < r.lo || area > r.hi;
}

// COCOeval.evaluateImg for one area range. `dts` are already sorted and cut;
// `ious` is [dts x gts] with gts in file order.
ImageEval match_image(const Cell& cell, const std::vector<const Det*>& dts,
                      const std::vector<double>& ious, const EvalParams& p, size_t area_index,
                      int64_t max_det) {
  const AreaRange& rng = p.area_ranges[area_index];
  const size_t T = p.iou_thrs.size();
  const size_t G = cell.gts.size();
  const size_t D = dts.size();

  // Ground truths: non-ignored first, stable (argsort of the flags).
  std::vector<uint8_t> ignore_file_order(G);
  for (size_t g = 0; g < G; ++g) {
    const Annotation& a = *cell.gts[g];
    ignore_file_order[g] = (a.iscrowd || outside(a.area, rng)) ? 1 : 0;
  }
  std::vector<size_t> gt_order(G);
  std::iota(gt_order.begin(), gt_order.end(), size_t{0});
  std::stable_sort(gt_order.begin(), gt_order.end(),
                   [&](size_t a, size_t b) { return ignore_file_order[a] < ignore_file_order[b]; });

  ImageEval ev;
  ev.area_index = area_index;
  ev.max_det = max_det;
  ev.gt_ids.resize(G);
  ev.gt_ignore.resize(G);
  std::vector<uint8_t> crowd(G);
  for (size_t g = 0; g < G; ++g) {
    const Annotation& a = *cell.gts[gt_order[g]];
    ev.gt_ids[g] = a.id;
    ev.gt_ignore[g] = ignore_file_order[gt_order[g]];
    crowd[g] = a.iscrowd ? 1 : 0;
  }
  for (const Det* d : dts) {
    ev.dt_ids.push_back(d->id);
    ev.dt_scores.push_back(d->score);
  }
  ev.dt_matches.assign(T * D, 0);
  ev.gt_matches.assign(T * G, 0);
  ev.dt_ignore.assign(T * D, 0);

  if (G > 0 && D > 0) {
    for (size_t t = 0; t < T; ++t) {
      int64_t* gtm = ev.gt_matches.data() + t * G;
      for (size_t d = 0; d < D; ++d) {
        // Greedy: best IoU >= threshold among unmatched (or crowd) gts; once
        // matched to a regular gt, ignored gts (sorted last) cannot win.
        double best = std::min(p.iou_thrs[t], 1 - 1e-10);
        ptrdiff_t m = -1;
        for (size_t g = 0; g < G; ++g) {
          if (gtm[g] > 0 && !crowd[g]) continue;
          if (m > -1 && ev.gt_ignore[m] == 0 && ev.gt_ignore[g] == 1) break;
          double iou = ious[d * G + gt_order[g]];
          if (iou < best) continue;
          best = iou;
          m = static_cast<ptrdiff_t>(g);
        }
        if (m == -1) continue;
        ev.dt_ignore[t * D + d] = ev.gt_ignore[m];
        ev.dt_matches[t * D + d] = ev.gt_ids[m];
        gtm[m] = dts[d]->id;
      }
    }
  }
  // Unmatched detections outside the area range do not count as false
  // positives. "Unmatched" is pycocotools' dtm == 0, i.e. matched gt id 0.
  for (size_t t = 0; t < T; ++t) {
    for (size_t d = 0; d < D; ++d) {
      if (ev.dt_matches[t * D + d] == 0 && outside(dts[d]->area, rng)) {
        ev.dt_ignore[t * D + d] = 1;
      }
    }
  }
  return ev;
}

}  // namespace

ImageEvals evaluate_images(const Dataset& gt, const std::vector<Detection>& detections,
                           const EvalParams& params) {
  check_params(params);
  ImageEvals out;
  out.params = params;
  std::sort(out.params.max_dets.begin(), out.params.max_dets.end());
  const EvalParams& p = out.params;
  const int64_t max_det = p.max_dets.back();

  std::vector<int64_t> img_ids, cat_ids;
  for (const Image& im : gt.images) img_ids.push_back(im.id);
  for (const Category& c : gt.categories) cat_ids.push_back(c.id);
  out.image_ids = sorted_unique(std::move(img_ids));
  out.category_ids = sorted_unique(std::move(cat_ids));
  const size_t I = out.image_ids.size();
  const size_t K = out.category_ids.size();
  const size_t A = p.area_ranges.size();

  std::unordered_map<int64_t, size_t> img_index, cat_index;
  for (size_t i = 0; i < I; ++i) img_index[out.image_ids[i]] = i;
  for (size_t k = 0; k < K; ++k) cat_index[out.category_ids[k]] = k;

  std::vector<Cell> cells(K * I);
  for (const Annotation& a : gt.annotations) {
    auto ii = img_index.find(a.image_id);
    auto kk = cat_index.find(a.category_id);
    if (ii == img_index.end() || kk == cat_index.end()) continue;
    cells[kk->second * I + ii->second].gts.push_back(&a);
  }
  for (size_t n = 0; n < detections.size(); ++n) {
    const Detection& d = detections[n];
    auto ii = img_index.find(d.image_id);
    if (ii == img_index.end()) {
      throw std::invalid_argument(fmt::format(
          "[coco::evaluate_images] detection {} has image_id {}, which is not in the ground truth",
          n, d.image_id));
    }
    auto kk = cat_index.find(d.category_id);
    // Categories absent from the ground truth are not evaluated.
    if (kk == cat_index.end()) continue;
    Det det{static_cast<int64_t>(n) + 1, d.bbox, d.score, d.bbox[2] * d.bbox[3]};
    cells[kk->second * I + ii->second].dts.push_back(det);
  }

  out.evals.resize(K * A * I);
  std::vector<BoxXYWH> gt_boxes, dt_boxes;
  std::vector<bool> gt_crowd;
  for (size_t k = 0; k < K; ++k) {
    for (size_t i = 0; i < I; ++i) {
      const Cell& cell = cells[k * I + i];
      if (cell.gts.empty() && cell.dts.empty()) continue;
      std::vector<const Det*> dts = top_detections(cell.dts, max_det);
      gt_boxes.clear();
      gt_crowd.clear();
      dt_boxes.clear();
      for (const Annotation* a : cell.gts) {
        gt_boxes.push_back(a->bbox);
        gt_crowd.push_back(a->iscrowd);
      }
      for (const Det* d : dts) dt_boxes.push_back(d->bbox);
      std::vector<double> ious = box_iou_matrix(dt_boxes, gt_boxes, gt_crowd);
      for (size_t a = 0; a < A; ++a) {
        ImageEval ev = match_image(cell, dts, ious, p, a, max_det);
        ev.image_id = out.image_ids[i];
        ev.category_id = out.category_ids[k];
        out.evals[(k * A + a) * I + i] = std::move(ev);
      }
    }
  }
  return out;
}

}  // namespace mfx::coco
