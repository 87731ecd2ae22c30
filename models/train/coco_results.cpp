// to_coco_results: one host copy of each input, then a flat loop.
#include "mfx/train/coco_results.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace mfx::train {

std::vector<coco::Detection> to_coco_results(const array& scores, const array& labels,
                                             const array& boxes,
                                             const std::vector<int64_t>& image_ids,
                                             const std::vector<int64_t>& label_to_category) {
  if (!scores.valid() || !labels.valid() || !boxes.valid()) {
    throw std::invalid_argument("[to_coco_results] scores, labels and boxes must not be null");
  }
  const Shape& s = scores.shape();
  if (s.size() != 2 || labels.shape() != s || boxes.ndim() != 3 || boxes.shape(0) != s[0] ||
      boxes.shape(1) != s[1] || boxes.shape(2) != 4) {
    throw std::invalid_argument(fmt::format(
        "[to_coco_results] expected scores [B,N], labels [B,N], boxes [B,N,4]; got scores {}, "
        "labels {}, boxes {}",
        shape_str(s), shape_str(labels.shape()), shape_str(boxes.shape())));
  }
  if (!is_floating(scores.dtype()) || !is_floating(boxes.dtype()) || !is_integral(labels.dtype())) {
    throw std::invalid_argument(fmt::format(
        "[to_coco_results] expected floating scores and boxes and integer labels; got scores {}, "
        "labels {}, boxes {}",
        dtype_name(scores.dtype()), dtype_name(labels.dtype()), dtype_name(boxes.dtype())));
  }
  if (static_cast<int64_t>(image_ids.size()) != s[0]) {
    throw std::invalid_argument(
        fmt::format("[to_coco_results] {} image ids for a batch of {} (scores {})",
                    image_ids.size(), s[0], shape_str(s)));
  }
  auto sc = scores.to_vector<double>();
  auto lb = labels.to_vector<int64_t>();
  auto bx = boxes.to_vector<double>();
  const int64_t B = s[0], N = s[1];
  std::vector<coco::Detection> out;
  out.reserve(static_cast<size_t>(B * N));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n = 0; n < N; ++n) {
      size_t i = static_cast<size_t>(b * N + n);
      int64_t label = lb[i];
      int64_t category = label;
      if (!label_to_category.empty()) {
        if (label < 0 || label >= static_cast<int64_t>(label_to_category.size())) {
          throw std::invalid_argument(fmt::format(
              "[to_coco_results] image {} (batch {}) slot {}: label {} is outside the label map "
              "of {} entries",
              image_ids[b], b, n, label, label_to_category.size()));
        }
        category = label_to_category[static_cast<size_t>(label)];
      }
      const double* q = &bx[i * 4];
      if (!std::isfinite(sc[i]) || !std::isfinite(q[0]) || !std::isfinite(q[1]) ||
          !std::isfinite(q[2]) || !std::isfinite(q[3])) {
        throw std::invalid_argument(
            fmt::format("[to_coco_results] image {} (batch {}) slot {}: non-finite score {} or box "
                        "({}, {}, {}, {})",
                        image_ids[b], b, n, sc[i], q[0], q[1], q[2], q[3]));
      }
      out.push_back({image_ids[b], category, {q[0], q[1], q[2] - q[0], q[3] - q[1]}, sc[i]});
    }
  }
  return out;
}

}  // namespace mfx::train
