// Box utilities used by detection criteria. Boxes are [..., 4] arrays.
#pragma once

#include "mfx/array.h"

namespace mfx {

/// (cx, cy, w, h) -> (x0, y0, x1, y1).
array box_cxcywh_to_xyxy(const array& boxes);
/// (x0, y0, x1, y1) -> (cx, cy, w, h).
array box_xyxy_to_cxcywh(const array& boxes);
/// Areas of xyxy boxes [...].
array box_area(const array& boxes);
/// Pairwise IoU of xyxy boxes: a [..., N, 4], b [..., M, 4] -> [..., N, M].
/// Leading axes broadcast. Zero-area unions give 0.
array box_iou(const array& a, const array& b);
/// Pairwise generalized IoU (Rezatofighi et al.) of xyxy boxes, same shapes
/// as box_iou; values in [-1, 1].
array generalized_box_iou(const array& a, const array& b);

}  // namespace mfx
