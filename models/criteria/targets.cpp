// Padding of per-image ground truths to a shape bucket, so that compiled
// (jit) criteria see a handful of shapes instead of one per GT count.
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"
#include "mfx/ops.h"

namespace mfx::criteria {

int64_t gt_bucket(int64_t max_count) {
  if (max_count < 0) {
    detail::fail("gt_bucket", "negative ground-truth count " + std::to_string(max_count));
  }
  int64_t b = 8;
  while (b < max_count) b *= 2;
  return b;
}

Targets pad_targets(const std::vector<array>& labels, const std::vector<array>& boxes,
                    int64_t bucket) {
  const std::string fn = "pad_targets";
  if (labels.size() != boxes.size()) {
    detail::fail(fn, std::to_string(labels.size()) + " label arrays but " +
                         std::to_string(boxes.size()) + " box arrays");
  }
  if (bucket < 0) detail::fail(fn, "negative bucket " + std::to_string(bucket));
  const Dtype bt = boxes.empty() || !boxes[0].valid() ? float32 : boxes[0].dtype();
  const array pad_box = array({0.5, 0.5, 1.0, 1.0}, Shape{1, 4}, bt);
  std::vector<array> ls, bs, ms;
  for (size_t b = 0; b < labels.size(); ++b) {
    const std::string img = "image " + std::to_string(b) + ": ";
    const array& l = labels[b];
    const array& x = boxes[b];
    if (!l.valid() || !x.valid()) detail::fail(fn, img + "null array");
    if (l.ndim() != 1 || !is_integral(l.dtype())) {
      detail::fail(fn, img + "labels must be 1-d integer, got " + shape_str(l.shape()) + " " +
                           std::string(dtype_name(l.dtype())));
    }
    const int64_t m = l.shape(0);
    if (x.shape() != Shape{m, 4} || !is_floating(x.dtype())) {
      detail::fail(fn, img + "boxes must be floating " + shape_str({m, 4}) + " to match labels " +
                           shape_str(l.shape()) + ", got " + shape_str(x.shape()) + " " +
                           std::string(dtype_name(x.dtype())));
    }
    if (m > bucket) {
      detail::fail(fn, img + std::to_string(m) + " ground truths exceed the bucket " +
                           std::to_string(bucket));
    }
    const int64_t pad = bucket - m;
    ls.push_back(concatenate({astype(l, int32), zeros({pad}, int32)}));
    bs.push_back(concatenate({astype(x, bt), broadcast_to(pad_box, {pad, 4})}));
    ms.push_back(concatenate({ones({m}, bool_), zeros({pad}, bool_)}));
  }
  if (ls.empty()) {
    return Targets{zeros({0, bucket}, int32), zeros({0, bucket, 4}, bt), zeros({0, bucket}, bool_)};
  }
  Targets t{stack(ls), stack(bs), stack(ms)};
  eval({t.labels, t.boxes, t.mask});
  return t;
}

}  // namespace mfx::criteria
