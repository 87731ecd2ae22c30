// Box utilities used by detection criteria. Boxes are [..., 4] arrays, either
// (cx, cy, w, h) or corner form (x0, y0, x1, y1) with x0 <= x1, y0 <= y1.
// All functions are differentiable composites of elementwise ops. Bool boxes
// and a last axis other than 4 throw std::invalid_argument naming the op.
#pragma once

#include "mfx/array.h"

namespace mfx {

/// (cx, cy, w, h) -> (x0, y0, x1, y1). Integer input computes in float32.
array box_cxcywh_to_xyxy(const array& boxes);
/// (x0, y0, x1, y1) -> (cx, cy, w, h). Integer input computes in float32.
array box_xyxy_to_cxcywh(const array& boxes);
/// Areas (x1 - x0) * (y1 - y0) of xyxy boxes [..., 4] -> [...], in the
/// input dtype.
array box_area(const array& boxes);
/// Pairwise IoU of xyxy boxes: a [..., N, 4], b [..., M, 4] -> [..., N, M]
/// (floating; integers compute in float32). Leading axes broadcast.
/// Degenerate pairs whose union has zero area give 0 rather than 0/0 (the
/// division is guarded with `where`, so gradients stay finite as well);
/// otherwise the values equal torchvision.ops.box_iou.
array box_iou(const array& a, const array& b);
/// Pairwise generalized IoU (Rezatofighi et al.) of xyxy boxes, same shapes
/// and dtypes as box_iou: iou - (C - union) / C with C the area of the
/// smallest enclosing box; values in [-1, 1]. Like box_iou, zero-area unions
/// give IoU 0, and a zero-area enclosing box contributes no penalty (both
/// boxes are one point: GIoU 0); otherwise equals
/// torchvision.ops.generalized_box_iou.
array generalized_box_iou(const array& a, const array& b);

}  // namespace mfx
