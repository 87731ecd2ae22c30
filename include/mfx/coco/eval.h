// COCO box evaluation, equal to pycocotools' COCOeval with iouType "bbox":
// evaluate_images (per image and category matching, COCOeval.evaluate),
// accumulate (precision / recall tables, COCOeval.accumulate) and summarize
// (the 12 standard numbers, COCOeval.summarize). evaluate() runs all three.
// Floating point follows pycocotools / numpy float64 order of operations
// (including numpy's pairwise summation in the final means), so the numbers
// are bit-identical to pycocotools' (tests/test_coco_eval.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mfx/coco/dataset.h"

namespace mfx::coco {

/// An object area range [lo, hi] (inclusive at both ends, as pycocotools).
struct AreaRange {
  std::string label;
  double lo = 0;
  double hi = 0;
};

/// Evaluation parameters (COCOeval.params for bbox).
struct EvalParams {
  /// IoU thresholds, T values.
  std::vector<double> iou_thrs;
  /// Recall points for interpolated precision, R values.
  std::vector<double> rec_thrs;
  /// Max detections per image and category; evaluate_images sorts them.
  std::vector<int64_t> max_dets;
  /// Area ranges, A values; summarize looks up "all", "small", "medium", "large".
  std::vector<AreaRange> area_ranges;

  /// pycocotools' defaults: np.linspace(.5, .95, 10), np.linspace(0, 1, 101),
  /// maxDets 1/10/100, areas all [0, 1e10], small [0, 32^2], medium
  /// [32^2, 96^2], large [96^2, 1e10].
  static EvalParams coco();
};

/// IoU of a detection and a ground-truth box (xywh), as pycocotools' bbIou:
/// boxes that do not overlap (width or height of the intersection <= 0) give
/// 0; for a crowd ground truth the union is the detection's area alone, so a
/// detection inside a crowd region scores 1.
double box_iou(const BoxXYWH& det, const BoxXYWH& gt, bool gt_crowd);
/// All pairs: [dets.size() x gts.size()] row-major. `gt_crowd` has one flag
/// per ground truth (throws std::invalid_argument otherwise).
std::vector<double> box_iou_matrix(const std::vector<BoxXYWH>& dets,
                                   const std::vector<BoxXYWH>& gts,
                                   const std::vector<bool>& gt_crowd);

/// Matching of one (image, category, area range) at the largest maxDet, as
/// COCOeval.evaluateImg. Ground truths are ordered non-ignored first,
/// detections by descending score (stable) and cut to max_det.
struct ImageEval {
  int64_t image_id = 0;
  int64_t category_id = 0;
  size_t area_index = 0;
  int64_t max_det = 0;
  /// Detection ids: position in the results list + 1 (as loadRes).
  std::vector<int64_t> dt_ids;
  std::vector<int64_t> gt_ids;
  /// [T x D] id of the matched ground truth, 0 when unmatched.
  std::vector<int64_t> dt_matches;
  /// [T x G] id of the matched detection, 0 when unmatched.
  std::vector<int64_t> gt_matches;
  std::vector<double> dt_scores;
  /// [G] 1 for crowd ground truths and those outside the area range.
  std::vector<uint8_t> gt_ignore;
  /// [T x D] 1 for detections matched to an ignored ground truth, and
  /// unmatched detections outside the area range.
  std::vector<uint8_t> dt_ignore;
};

/// Output of evaluate_images: one entry per (category, area range, image), in
/// that nesting order (index (k * A + a) * I + i); empty where the image has
/// neither ground truths nor detections of the category.
struct ImageEvals {
  EvalParams params;
  /// Sorted unique ids of all images / categories of the ground truth.
  std::vector<int64_t> image_ids;
  std::vector<int64_t> category_ids;
  std::vector<std::optional<ImageEval>> evals;
};

/// Per-image matching of `detections` against `gt` (COCOeval.evaluate after
/// loadRes). Detections of categories not in gt are ignored; a detection
/// whose image is not in gt throws std::invalid_argument naming it, as do
/// empty or non-positive max_dets and empty iou_thrs.
ImageEvals evaluate_images(const Dataset& gt, const std::vector<Detection>& detections,
                           const EvalParams& params = EvalParams::coco());

/// Precision / recall tables (COCOeval.accumulate). Entries are -1 for
/// (category, area) settings without non-ignored ground truths.
struct Accumulated {
  EvalParams params;
  std::vector<int64_t> category_ids;
  size_t T = 0, R = 0, K = 0, A = 0, M = 0;
  /// [T x R x K x A x M] interpolated precision at each recall point.
  std::vector<double> precision;
  /// [T x K x A x M] final recall.
  std::vector<double> recall;
  /// [T x R x K x A x M] score of the detection reaching each recall point.
  std::vector<double> scores;

  double precision_at(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  }
  double recall_at(size_t t, size_t k, size_t a, size_t m) const {
    return recall[((t * K + k) * A + a) * M + m];
  }
};

/// Accumulates per-image results over images for every category, area range
/// and maxDet (detections pooled across images, stable sort by score).
Accumulated accumulate(const ImageEvals& evals);

/// The 12 COCO numbers: AP @[.5:.95], AP50, AP75, AP small/medium/large
/// (maxDets 100), AR @maxDets 1/10/100, AR small/medium/large. Each is the
/// mean of the entries > -1 of its slice, or -1 when there are none. Uses
/// max_dets[0..2] like pycocotools; throws std::invalid_argument with fewer.
std::array<double, 12> summarize(const Accumulated& acc);

/// The 12 lines pycocotools prints for `stats`, e.g.
/// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505".
std::string format_summary(const std::array<double, 12>& stats, const EvalParams& params);

/// Short names of the 12 numbers in summarize's order: "AP", "AP50", "AP75",
/// "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl".
const std::array<const char*, 12>& summary_names();

/// The first `columns` (1..12) numbers as a Markdown table: a header row of
/// summary_names, a separator and the values in percent with one decimal
/// ("-" for -1: no ground truth in that range), e.g.
/// "| AP | AP50 |\n|---|---|\n| 50.5 | 71.2 |\n". Throws
/// std::invalid_argument for `columns` outside [1, 12].
std::string format_summary_table(const std::array<double, 12>& stats, size_t columns = 12);

/// Everything one evaluation produces.
struct EvalResult {
  Accumulated accumulated;
  std::array<double, 12> stats{};
};

/// evaluate_images + accumulate + summarize.
EvalResult evaluate(const Dataset& gt, const std::vector<Detection>& detections,
                    const EvalParams& params = EvalParams::coco());

}  // namespace mfx::coco
