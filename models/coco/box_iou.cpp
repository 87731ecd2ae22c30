// Box IoU with pycocotools' crowd rule (maskApi.c bbIou).
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "mfx/coco/eval.h"

namespace mfx::coco {

double box_iou(const BoxXYWH& det, const BoxXYWH& gt, bool gt_crowd) {
  // Same operand order as bbIou so the doubles round identically.
  double det_area = det[2] * det[3];
  double gt_area = gt[2] * gt[3];
  double w = std::min(det[2] + det[0], gt[2] + gt[0]) - std::max(det[0], gt[0]);
  if (w <= 0) return 0.0;
  double h = std::min(det[3] + det[1], gt[3] + gt[1]) - std::max(det[1], gt[1]);
  if (h <= 0) return 0.0;
  double inter = w * h;
  // A crowd region covers many objects: only the part of the detection
  // outside it counts against the match.
  double uni = gt_crowd ? det_area : det_area + gt_area - inter;
  return inter / uni;
}

std::vector<double> box_iou_matrix(const std::vector<BoxXYWH>& dets,
                                   const std::vector<BoxXYWH>& gts,
                                   const std::vector<bool>& gt_crowd) {
  if (gt_crowd.size() != gts.size()) {
    throw std::invalid_argument(
        fmt::format("[coco::box_iou_matrix] {} crowd flags for {} ground-truth boxes",
                    gt_crowd.size(), gts.size()));
  }
  std::vector<double> out(dets.size() * gts.size());
  for (size_t d = 0; d < dets.size(); ++d) {
    for (size_t g = 0; g < gts.size(); ++g) {
      out[d * gts.size() + g] = box_iou(dets[d], gts[g], gt_crowd[g]);
    }
  }
  return out;
}

}  // namespace mfx::coco
