// A Deformable DETR small enough for training-step tests on two cores
// (R18 at 1/32 width, d_model 32, one encoder and two decoder layers).
#pragma once

#include "mfx/detr/detector.h"

namespace mfx::test {

inline detr::DetectorConfig tiny_detector(int64_t num_classes, double dropout) {
  detr::DetectorConfig c;
  c.backbone.depth = resnet::ResNetDepth::R18;
  c.backbone.width_divisor = 32;
  c.detr.d_model = 32;
  c.detr.nheads = 2;
  c.detr.enc_layers = 1;
  c.detr.dec_layers = 2;
  c.detr.dim_ff = 64;
  c.detr.dropout = dropout;
  c.detr.num_queries = 12;
  c.detr.num_feature_levels = 3;
  c.detr.enc_points = 2;
  c.detr.dec_points = 2;
  c.detr.num_classes = num_classes;
  c.detr.gn_groups = 8;
  c.detr.backbone_channels = resnet::resnet_feature_channels(c.backbone);
  c.detr.backbone_strides = {8, 16, 32};
  c.validate();
  return c;
}

}  // namespace mfx::test
