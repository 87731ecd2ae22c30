// Sine position encoding, mask resizing, valid ratios and the encoder's
// reference points: everything derived from padding masks and level sizes.
#include <cmath>
#include <string>
#include <vector>

#include "detr/detr_common.h"
#include "mfx/nn.h"
#include "mfx/ops.h"

namespace mfx::detr {
namespace {

void check_mask(const std::string& fn, const array& mask) {
  if (!mask.valid() || mask.ndim() != 3 || mask.dtype() != bool_) {
    detail::fail(fn, "mask must be a bool array [B, H, W], got " +
                         (mask.valid() ? shape_str(mask.shape()) + " " +
                                             std::string(dtype_name(mask.dtype()))
                                       : std::string("an empty array")));
  }
}

}  // namespace

array position_embedding_sine(const array& mask, int64_t num_pos_feats, double temperature,
                              bool normalize, double scale) {
  const std::string fn = "position_embedding_sine";
  check_mask(fn, mask);
  if (num_pos_feats <= 0 || num_pos_feats % 2 != 0) {
    detail::fail(fn,
                 "num_pos_feats must be positive and even, got " + std::to_string(num_pos_feats));
  }
  const array not_mask = astype(logical_not(mask), float32);
  array y = cumsum(not_mask, 1);
  array x = cumsum(not_mask, 2);
  if (normalize) {
    const int64_t h = mask.shape(1), w = mask.shape(2);
    const array y_last = slice_axis(y, 1, h - 1, h);
    const array x_last = slice_axis(x, 2, w - 1, w);
    y = (y - 0.5f) / (y_last + 1e-6f) * static_cast<float>(scale);
    x = (x - 0.5f) / (x_last + 1e-6f) * static_cast<float>(scale);
  }
  // dim_t[2k] == dim_t[2k+1] = T^(2k / F) (float32 like the reference), so
  // the interleaved (sin, cos) pairs share one argument.
  const int64_t half = num_pos_feats / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) {
    const float exponent = static_cast<float>(2 * k) / static_cast<float>(num_pos_feats);
    inv[static_cast<size_t>(k)] = std::pow(static_cast<float>(temperature), exponent);
  }
  const array dim_t(inv, {half}, float32);
  auto encode = [&](const array& e) {
    const array a = expand_dims(e, -1) / dim_t;  // [B, H, W, F/2]
    const array pairs = stack({sin(a), cos(a)}, -1);
    Shape s = e.shape();
    s.push_back(num_pos_feats);
    return reshape(pairs, s);  // [B, H, W, F]
  };
  const array pos = concatenate({encode(y), encode(x)}, 3);
  return transpose(pos, {0, 3, 1, 2});
}

array downsample_mask(const array& mask, int64_t h, int64_t w) {
  check_mask("downsample_mask", mask);
  const int64_t b = mask.shape(0);
  const array m = reshape(mask, {b, 1, mask.shape(1), mask.shape(2)});
  return reshape(interpolate(m, {h, w}, InterpolateMode::nearest), {b, h, w});
}

array valid_ratios(const std::vector<array>& masks, Dtype dtype) {
  const std::string fn = "valid_ratios";
  if (masks.empty()) detail::fail(fn, "needs at least one mask");
  std::vector<array> per_level;
  for (const array& mask : masks) {
    check_mask(fn, mask);
    const int64_t h = mask.shape(1), w = mask.shape(2);
    const array valid = astype(logical_not(mask), dtype);
    const array valid_h = sum(slice_axis(valid, 2, 0, 1), {1, 2}) / static_cast<double>(h);
    const array valid_w = sum(slice_axis(valid, 1, 0, 1), {1, 2}) / static_cast<double>(w);
    per_level.push_back(stack({valid_w, valid_h}, -1));  // [B, 2] as (w, h)
  }
  return stack(per_level, 1);
}

array encoder_reference_points(const SpatialShapes& shapes, const array& ratios) {
  const std::string fn = "encoder_reference_points";
  const int64_t levels = static_cast<int64_t>(shapes.size());
  if (!ratios.valid() || ratios.ndim() != 3 || ratios.shape(1) != levels || ratios.shape(2) != 2 ||
      !is_floating(ratios.dtype())) {
    detail::fail(fn, "valid_ratios must be floating [B, " + std::to_string(levels) + ", 2] for " +
                         std::to_string(levels) + " levels, got " +
                         (ratios.valid() ? shape_str(ratios.shape()) : std::string("none")));
  }
  // Per position: the pixel centre, its level's size and the level index.
  std::vector<double> centre, size;
  std::vector<int32_t> level;
  for (int64_t l = 0; l < levels; ++l) {
    const auto [h, w] = shapes[static_cast<size_t>(l)];
    if (h <= 0 || w <= 0) {
      detail::fail(fn, "level " + std::to_string(l) + " has size (" + std::to_string(h) + ", " +
                           std::to_string(w) + ")");
    }
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        centre.insert(centre.end(), {static_cast<double>(j) + 0.5, static_cast<double>(i) + 0.5});
        size.insert(size.end(), {static_cast<double>(w), static_cast<double>(h)});
        level.push_back(static_cast<int32_t>(l));
      }
    }
  }
  const int64_t s = static_cast<int64_t>(level.size());
  const Dtype t = ratios.dtype();
  const array ratio_at = take(ratios, array(level, {s}, int32), 1);  // [B, S, 2]
  const array ref = array(centre, {s, 2}, t) / (ratio_at * array(size, {s, 2}, t));
  return expand_dims(ref, 2) * expand_dims(ratios, 1);  // [B, S, L, 2]
}

}  // namespace mfx::detr
