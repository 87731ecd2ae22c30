// PostProcess of the reference: top-k detections over queries x classes in
// image coordinates.
#include <algorithm>
#include <string>

#include "detr/detr_common.h"
#include "mfx/boxes.h"
#include "mfx/ops.h"

namespace mfx::detr {

Detections post_process(const array& logits, const array& boxes, const array& target_sizes,
                        int64_t num_select) {
  const std::string fn = "post_process";
  if (!logits.valid() || !boxes.valid() || !target_sizes.valid() || logits.ndim() != 3 ||
      boxes.ndim() != 3 || boxes.shape(2) != 4 || boxes.shape(0) != logits.shape(0) ||
      boxes.shape(1) != logits.shape(1) || target_sizes.shape() != Shape{logits.shape(0), 2}) {
    detail::fail(fn, "expected logits [B, N, K], boxes [B, N, 4] and target_sizes [B, 2], got " +
                         (logits.valid() ? shape_str(logits.shape()) : "none") + ", " +
                         (boxes.valid() ? shape_str(boxes.shape()) : "none") + ", " +
                         (target_sizes.valid() ? shape_str(target_sizes.shape()) : "none"));
  }
  if (!is_floating(logits.dtype()) || !is_floating(boxes.dtype())) {
    detail::fail(fn, "logits and boxes must be floating, got " +
                         std::string(dtype_name(logits.dtype())) + " and " +
                         std::string(dtype_name(boxes.dtype())));
  }
  if (num_select <= 0) {
    detail::fail(fn, "num_select must be positive, got " + std::to_string(num_select));
  }
  const int64_t b = logits.shape(0), n = logits.shape(1), k = logits.shape(2);
  const int64_t count = std::min(num_select, n * k);
  const array prob = reshape(sigmoid(logits), {b, n * k});
  auto [scores, index] = topk(prob, count, 1);
  const array kk = array(static_cast<int32_t>(k));
  const array query = floor_divide(index, kk);
  const array labels = remainder(index, kk);
  const array xyxy = box_cxcywh_to_xyxy(boxes);
  const array picked = take_along_axis(xyxy, expand_dims(query, -1), 1);  // [B, count, 4]
  const array sizes = astype(target_sizes, boxes.dtype());
  const array img_h = slice_axis(sizes, 1, 0, 1), img_w = slice_axis(sizes, 1, 1, 2);
  const array scale = concatenate({img_w, img_h, img_w, img_h}, 1);  // [B, 4]
  return {scores, labels, picked * expand_dims(scale, 1)};
}

}  // namespace mfx::detr
