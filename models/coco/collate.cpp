// Padding and stacking samples into a Batch.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>

#include "mfx/coco/loader.h"

namespace mfx::coco {

int64_t bucket_for(int64_t max_count, const std::vector<int64_t>& buckets) {
  if (max_count < 0) {
    throw std::invalid_argument(fmt::format("[coco::bucket_for] negative count {}", max_count));
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] <= 0 || (i > 0 && buckets[i] <= buckets[i - 1])) {
      throw std::invalid_argument(
          fmt::format("[coco::bucket_for] buckets must be positive and ascending, got {}",
                      fmt::join(buckets, ", ")));
    }
  }
  if (buckets.empty()) return max_count;
  for (int64_t b : buckets) {
    if (b >= max_count) return b;
  }
  const int64_t top = buckets.back();
  return (max_count + top - 1) / top * top;
}

Batch collate(const std::vector<Sample>& samples, const std::vector<int64_t>& buckets,
              int pad_multiple) {
  if (samples.empty()) throw std::invalid_argument("[coco::collate] no samples");
  if (pad_multiple < 1) {
    throw std::invalid_argument(
        fmt::format("[coco::collate] pad_multiple must be >= 1, got {}", pad_multiple));
  }
  int64_t H = 0, W = 0, max_count = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (s.height <= 0 || s.width <= 0 ||
        s.image.size() != static_cast<size_t>(3) * s.height * s.width ||
        s.labels.size() != s.boxes.size()) {
      throw std::invalid_argument(fmt::format(
          "[coco::collate] sample {} (image id {}) is inconsistent: {}x{} with {} values, {} "
          "labels and {} boxes",
          i, s.image_id, s.height, s.width, s.image.size(), s.labels.size(), s.boxes.size()));
    }
    H = std::max<int64_t>(H, s.height);
    W = std::max<int64_t>(W, s.width);
    max_count = std::max<int64_t>(max_count, static_cast<int64_t>(s.labels.size()));
  }
  H = (H + pad_multiple - 1) / pad_multiple * pad_multiple;
  W = (W + pad_multiple - 1) / pad_multiple * pad_multiple;
  const int64_t B = static_cast<int64_t>(samples.size());
  const int64_t M = bucket_for(max_count, buckets);

  std::vector<float> images(static_cast<size_t>(B * 3 * H * W), 0.f);
  std::vector<uint8_t> mask(static_cast<size_t>(B * H * W), 1);
  std::vector<int32_t> labels(static_cast<size_t>(B * M), 0);
  std::vector<float> boxes(static_cast<size_t>(B * M * 4));
  std::vector<uint8_t> valid(static_cast<size_t>(B * M), 0);
  for (size_t i = 0; i < boxes.size(); i += 4) {
    boxes[i] = 0.5f, boxes[i + 1] = 0.5f, boxes[i + 2] = 1.f, boxes[i + 3] = 1.f;
  }

  Batch batch;
  for (int64_t b = 0; b < B; ++b) {
    const Sample& s = samples[b];
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < s.height; ++y) {
        const float* src = s.image.data() + (c * s.height + y) * s.width;
        std::copy_n(src, s.width, images.data() + ((b * 3 + c) * H + y) * W);
      }
    }
    for (int64_t y = 0; y < s.height; ++y) {
      std::fill_n(mask.data() + (b * H + y) * W, s.width, uint8_t{0});
    }
    for (size_t m = 0; m < s.labels.size(); ++m) {
      labels[b * M + m] = s.labels[m];
      std::copy_n(s.boxes[m].data(), 4, boxes.data() + (b * M + m) * 4);
      valid[b * M + m] = 1;
    }
    batch.image_ids.push_back(s.image_id);
    batch.sizes.push_back({s.height, s.width});
    batch.orig_sizes.push_back({s.orig_height, s.orig_width});
    batch.indices.push_back(s.index);
  }
  batch.images = array(images, {B, 3, H, W}, float32);
  // bool arrays are read from bytes holding 0 / 1.
  batch.mask = array(mask.data(), {B, H, W}, bool_);
  batch.labels = array(labels, {B, M}, int32);
  batch.boxes = array(boxes, {B, M, 4}, float32);
  batch.valid = array(valid.data(), {B, M}, bool_);
  return batch;
}

}  // namespace mfx::coco
