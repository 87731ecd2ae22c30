// Detector outputs to COCO results: the post-processed top-k detections of a
// batch become coco::Detection entries (xywh boxes) for coco::evaluate and
// the results JSON.
#pragma once

#include <cstdint>
#include <vector>

#include "mfx/array.h"
#include "mfx/coco/dataset.h"

namespace mfx::train {

/// Converts a batch of detections: scores [B, N] (floating), labels [B, N]
/// (integer), boxes [B, N, 4] (floating, xyxy in pixels of the original
/// image), image_ids (B entries). Label l becomes category
/// label_to_category[l]; an empty map means the labels are category ids.
/// Every detection is kept, in batch then slot order; box (x0, y0, x1, y1)
/// becomes bbox (x0, y0, x1 - x0, y1 - y0). Throws std::invalid_argument
/// naming the shapes / dtypes for mismatched inputs, and naming the image
/// and slot for labels outside the map and non-finite scores or boxes.
std::vector<coco::Detection> to_coco_results(const array& scores, const array& labels,
                                             const array& boxes,
                                             const std::vector<int64_t>& image_ids,
                                             const std::vector<int64_t>& label_to_category = {});

}  // namespace mfx::train
