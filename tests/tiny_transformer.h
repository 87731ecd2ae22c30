// Inputs and a configuration for the deformable transformer's tests: small
// enough for float64 finite differences on two cores.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "mfx/detr/deformable_detr.h"

namespace mfx::test {

/// Deterministic values: (np.sin(0.37 * np.arange(n) + c) * s).reshape(shape).
inline array gen(const Shape& shape, double c, double s = 1.0, Dtype dtype = float64) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::sin(0.37 * i + c) * s;
  return array(v, shape, dtype);
}

/// Two backbone levels (8 and 16 channels at strides 8, 16) and one extra
/// stride-2 level; d_model 32, one encoder and two decoder layers, 6 queries.
inline detr::DeformableDetrConfig tiny_transformer() {
  detr::DeformableDetrConfig c;
  c.d_model = 32;
  c.nheads = 2;
  c.enc_layers = 1;
  c.dec_layers = 2;
  c.dim_ff = 32;
  c.num_queries = 6;
  c.num_feature_levels = 3;
  c.enc_points = 2;
  c.dec_points = 2;
  c.num_classes = 5;
  c.backbone_channels = {8, 16};
  c.backbone_strides = {8, 16};
  c.gn_groups = 8;
  return c;
}

struct TinyInputs {
  std::vector<array> features;
  array mask;
};

/// Backbone features of two 64x64 images; the second is padded right of
/// column 40 and below row 48.
inline TinyInputs tiny_transformer_inputs(Dtype dtype = float32) {
  std::vector<uint8_t> m(2 * 64 * 64, 0);
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 64; ++j) m[static_cast<size_t>(64 * 64 + i * 64 + j)] = i >= 48 || j >= 40;
  }
  return {{gen({2, 8, 8, 8}, 0.3, 1.0, dtype), gen({2, 16, 4, 4}, 0.7, 1.0, dtype)},
          astype(array(m, {2, 64, 64}, uint8), bool_)};
}

}  // namespace mfx::test
