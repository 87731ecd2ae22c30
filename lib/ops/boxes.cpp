// Box utilities as elementwise composites (differentiable through the
// ordinary elementwise rules). Degenerate boxes: a pair whose union (or, for
// GIoU, enclosing box) has zero area gets IoU 0 (and no enclosing penalty)
// instead of 0/0, with the division guarded by `where` so that gradients
// stay finite too.
#include "mfx/boxes.h"
#include "ops/op_utils.h"

namespace mfx {

namespace {

void check_boxes(const array& b, int min_ndim, const char* op) {
  check_valid(b, op);
  if (b.dtype() == bool_) {
    throw std::invalid_argument(
        fmt::format("[{}] boxes must be numeric, got bool of shape {}", op, shape_str(b.shape())));
  }
  if (b.ndim() < min_ndim || b.shape(-1) != 4) {
    throw std::invalid_argument(fmt::format("[{}] boxes must have shape {}, got {}", op,
                                            min_ndim > 1 ? "[..., N, 4]" : "[..., 4]",
                                            shape_str(b.shape())));
  }
}

// Coordinate i of [..., 4] boxes as a [...] array.
array coord(const array& b, int i) {
  Shape s(b.shape().begin(), b.shape().end() - 1);
  return reshape(slice_axis(b, -1, i, i + 1), s);
}

// numerator / denominator where denominator > 0, else 0 (no 0/0 NaN).
array safe_divide(const array& num, const array& den) {
  array zero = zeros({}, den.dtype());
  array ok = greater(den, zero);
  return where(ok, divide(num, where(ok, den, ones({}, den.dtype()))), zero);
}

// Pairwise intersection and union of a [..., N, 4] and b [..., M, 4].
struct PairGeometry {
  array ax0, ay0, ax1, ay1, bx0, by0, bx1, by1;  // [..., N, 1] and [..., 1, M]
  array inter, uni;                              // [..., N, M]
};

PairGeometry pair_geometry(const array& a, const array& b, const char* op) {
  check_boxes(a, 2, op);
  check_boxes(b, 2, op);
  Shape la(a.shape().begin(), a.shape().end() - 2), lb(b.shape().begin(), b.shape().end() - 2);
  broadcast_shapes(la, lb, op);  // a clear error naming the op for mismatched leading axes
  const Dtype t = to_floating(promote_types(a.dtype(), b.dtype()));
  array af = astype(a, t), bf = astype(b, t);
  PairGeometry g;
  g.ax0 = expand_dims(coord(af, 0), -1);
  g.ay0 = expand_dims(coord(af, 1), -1);
  g.ax1 = expand_dims(coord(af, 2), -1);
  g.ay1 = expand_dims(coord(af, 3), -1);
  g.bx0 = expand_dims(coord(bf, 0), -2);
  g.by0 = expand_dims(coord(bf, 1), -2);
  g.bx1 = expand_dims(coord(bf, 2), -2);
  g.by1 = expand_dims(coord(bf, 3), -2);
  array zero = zeros({}, t);
  array iw = maximum(subtract(minimum(g.ax1, g.bx1), maximum(g.ax0, g.bx0)), zero);
  array ih = maximum(subtract(minimum(g.ay1, g.by1), maximum(g.ay0, g.by0)), zero);
  g.inter = multiply(iw, ih);
  array area_a = multiply(subtract(g.ax1, g.ax0), subtract(g.ay1, g.ay0));
  array area_b = multiply(subtract(g.bx1, g.bx0), subtract(g.by1, g.by0));
  g.uni = subtract(add(area_a, area_b), g.inter);
  return g;
}

}  // namespace

array box_cxcywh_to_xyxy(const array& boxes) {
  check_boxes(boxes, 1, "box_cxcywh_to_xyxy");
  array b = astype(boxes, to_floating(boxes.dtype()));
  array cx = coord(b, 0), cy = coord(b, 1), hw = coord(b, 2) * 0.5, hh = coord(b, 3) * 0.5;
  return stack({cx - hw, cy - hh, cx + hw, cy + hh}, -1);
}

array box_xyxy_to_cxcywh(const array& boxes) {
  check_boxes(boxes, 1, "box_xyxy_to_cxcywh");
  array b = astype(boxes, to_floating(boxes.dtype()));
  array x0 = coord(b, 0), y0 = coord(b, 1), x1 = coord(b, 2), y1 = coord(b, 3);
  return stack({(x0 + x1) * 0.5, (y0 + y1) * 0.5, x1 - x0, y1 - y0}, -1);
}

array box_area(const array& boxes) {
  check_boxes(boxes, 1, "box_area");
  return multiply(subtract(coord(boxes, 2), coord(boxes, 0)),
                  subtract(coord(boxes, 3), coord(boxes, 1)));
}

array box_iou(const array& a, const array& b) {
  PairGeometry g = pair_geometry(a, b, "box_iou");
  return safe_divide(g.inter, g.uni);
}

array generalized_box_iou(const array& a, const array& b) {
  PairGeometry g = pair_geometry(a, b, "generalized_box_iou");
  array iou = safe_divide(g.inter, g.uni);
  array zero = zeros({}, iou.dtype());
  array cw = maximum(subtract(maximum(g.ax1, g.bx1), minimum(g.ax0, g.bx0)), zero);
  array ch = maximum(subtract(maximum(g.ay1, g.by1), minimum(g.ay0, g.by0)), zero);
  array enclosing = multiply(cw, ch);
  return subtract(iou, safe_divide(subtract(enclosing, g.uni), enclosing));
}

}  // namespace mfx
