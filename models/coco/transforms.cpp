// DETR's detection transforms on AnnotatedImage, and the final conversion to
// a normalised Sample.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "coco/rng.h"
#include "mfx/coco/data.h"

namespace mfx::coco {

namespace {

[[noreturn]] void bad_config(const std::string& what) {
  throw std::invalid_argument("[coco::TransformConfig] " + what);
}

void check_sizes(const std::vector<int>& sizes, const char* name) {
  if (sizes.empty()) bad_config(fmt::format("{} must not be empty", name));
  for (int s : sizes) {
    if (s <= 0) bad_config(fmt::format("{} must be positive, got {}", name, s));
  }
}

int pick(const std::vector<int>& sizes, detail::Rng& rng) {
  return sizes[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(sizes.size()) - 1))];
}

// DETR's RandomSizeCrop: crop sides uniform in [min, min(side, max)] (the
// whole side when the image is smaller than min), position uniform.
void random_size_crop(AnnotatedImage& a, int min_size, int max_size, detail::Rng& rng) {
  const int H = a.image.h, W = a.image.w;
  const int w = static_cast<int>(rng.uniform_int(std::min(min_size, W), std::min(W, max_size)));
  const int h = static_cast<int>(rng.uniform_int(std::min(min_size, H), std::min(H, max_size)));
  const int top = static_cast<int>(rng.uniform_int(0, H - h));
  const int left = static_cast<int>(rng.uniform_int(0, W - w));
  crop(a, top, left, h, w);
}

}  // namespace

TransformConfig detr_train_transforms() {
  TransformConfig c;
  c.train = true;
  return c;
}

TransformConfig detr_val_transforms() {
  return TransformConfig{};
}

void validate(const TransformConfig& c) {
  check_sizes(c.scales, "scales");
  if (c.val_size <= 0) bad_config(fmt::format("val_size must be positive, got {}", c.val_size));
  if (!(c.flip_prob >= 0 && c.flip_prob <= 1) || !(c.crop_prob >= 0 && c.crop_prob <= 1)) {
    bad_config(fmt::format("flip_prob ({}) and crop_prob ({}) must be in [0, 1]", c.flip_prob,
                           c.crop_prob));
  }
  if (c.train && c.crop_prob > 0) {
    check_sizes(c.crop_scales, "crop_scales");
    if (c.crop_min <= 0 || c.crop_max < c.crop_min) {
      bad_config(fmt::format("need 0 < crop_min <= crop_max, got crop_min {} crop_max {}",
                             c.crop_min, c.crop_max));
    }
  }
}

std::array<int, 2> resize_shape(int height, int width, int size, int max_size) {
  if (height <= 0 || width <= 0 || size <= 0) {
    throw std::invalid_argument(
        fmt::format("[coco::resize_shape] sizes must be positive, got image {}x{} and size {}",
                    height, width, size));
  }
  const double lo = std::min(height, width), hi = std::max(height, width);
  if (max_size > 0 && hi / lo * size > max_size) {
    size = static_cast<int>(std::lround(max_size * lo / hi));
    size = std::max(size, 1);
  }
  if ((width <= height && width == size) || (height <= width && height == size)) {
    return {height, width};
  }
  if (width < height) {
    return {std::max(1, static_cast<int>(static_cast<double>(size) * height / width)), size};
  }
  return {size, std::max(1, static_cast<int>(static_cast<double>(size) * width / height))};
}

void hflip(AnnotatedImage& a) {
  RgbImage& img = a.image;
  for (int y = 0; y < img.h; ++y) {
    for (int l = 0, r = img.w - 1; l < r; ++l, --r) {
      std::swap_ranges(img.at(y, l), img.at(y, l) + 3, img.at(y, r));
    }
  }
  for (auto& b : a.boxes) {
    const double x0 = b[0];
    b[0] = img.w - b[2];
    b[2] = img.w - x0;
  }
}

void resize(AnnotatedImage& a, int h, int w) {
  const double sx = static_cast<double>(w) / a.image.w, sy = static_cast<double>(h) / a.image.h;
  a.image = resize_image(a.image, h, w);
  for (auto& b : a.boxes) b = {b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy};
  // Rounding can push an edge box a hair past the new border.
  clamp_boxes(a);
}

void resize_short_side(AnnotatedImage& a, int size, int max_size) {
  const auto hw = resize_shape(a.image.h, a.image.w, size, max_size);
  resize(a, hw[0], hw[1]);
}

void crop(AnnotatedImage& a, int top, int left, int h, int w) {
  const RgbImage& img = a.image;
  if (h <= 0 || w <= 0 || top < 0 || left < 0 || top + h > img.h || left + w > img.w) {
    throw std::invalid_argument(
        fmt::format("[coco::crop] region top {} left {} size {}x{} is not inside the {}x{} image",
                    top, left, h, w, img.h, img.w));
  }
  RgbImage out(h, w);
  for (int y = 0; y < h; ++y)
    std::copy_n(img.at(top + y, left), static_cast<size_t>(w) * 3, out.at(y, 0));
  a.image = std::move(out);
  for (auto& b : a.boxes) b = {b[0] - left, b[1] - top, b[2] - left, b[3] - top};
  clamp_boxes(a);
}

void clamp_boxes(AnnotatedImage& a) {
  const double W = a.image.w, H = a.image.h;
  size_t kept = 0;
  for (size_t i = 0; i < a.boxes.size(); ++i) {
    auto b = a.boxes[i];
    b = {std::clamp(b[0], 0.0, W), std::clamp(b[1], 0.0, H), std::clamp(b[2], 0.0, W),
         std::clamp(b[3], 0.0, H)};
    if (!(b[2] > b[0] && b[3] > b[1])) continue;
    a.boxes[kept] = b;
    a.labels[kept] = a.labels[i];
    ++kept;
  }
  a.boxes.resize(kept);
  a.labels.resize(kept);
}

void apply_transforms(AnnotatedImage& a, const TransformConfig& c, uint64_t seed) {
  validate(c);
  if (!c.train) {
    resize_short_side(a, c.val_size, c.max_size);
    return;
  }
  detail::Rng rng(seed);
  if (rng.bernoulli(c.flip_prob)) hflip(a);
  if (rng.bernoulli(c.crop_prob)) {
    resize_short_side(a, pick(c.crop_scales, rng), 0);
    random_size_crop(a, c.crop_min, c.crop_max, rng);
  }
  resize_short_side(a, pick(c.scales, rng), c.max_size);
}

Sample to_sample(const AnnotatedImage& a, int64_t image_id, int orig_height, int orig_width) {
  static const float kMean[3] = {0.485f, 0.456f, 0.406f};
  static const float kStd[3] = {0.229f, 0.224f, 0.225f};
  const RgbImage& img = a.image;
  Sample s;
  s.height = img.h;
  s.width = img.w;
  s.image_id = image_id;
  s.orig_height = orig_height;
  s.orig_width = orig_width;
  const size_t plane = static_cast<size_t>(img.h) * img.w;
  s.image.resize(plane * 3);
  for (int c = 0; c < 3; ++c) {
    const float scale = 1.f / (255.f * kStd[c]), shift = kMean[c] / kStd[c];
    float* o = s.image.data() + c * plane;
    for (size_t i = 0; i < plane; ++i) o[i] = img.rgb[i * 3 + c] * scale - shift;
  }
  const double W = img.w, H = img.h;
  s.labels = a.labels;
  s.boxes.reserve(a.boxes.size());
  for (const auto& b : a.boxes) {
    s.boxes.push_back(
        {static_cast<float>((b[0] + b[2]) / 2 / W), static_cast<float>((b[1] + b[3]) / 2 / H),
         static_cast<float>((b[2] - b[0]) / W), static_cast<float>((b[3] - b[1]) / H)});
  }
  return s;
}

}  // namespace mfx::coco
