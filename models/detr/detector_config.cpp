// DetectorConfig presets and validation.
#include <fmt/format.h>

#include <stdexcept>

#include "mfx/detr/detector.h"

namespace mfx::detr {

DetectorConfig DetectorConfig::coco_r50() {
  DetectorConfig c;
  c.backbone.depth = resnet::ResNetDepth::R50;
  c.detr = DeformableDetrConfig{};
  c.detr.backbone_channels = resnet::resnet_feature_channels(c.backbone);
  return c;
}

DetectorConfig DetectorConfig::small_cpu(int64_t num_classes) {
  DetectorConfig c;
  c.backbone.depth = resnet::ResNetDepth::R18;
  // Half-width ResNet-18: the backbone dominates the cost at 256 px.
  c.backbone.width_divisor = 2;
  c.detr = DeformableDetrConfig::small();
  c.detr.num_classes = num_classes;
  c.detr.backbone_channels = resnet::resnet_feature_channels(c.backbone);
  return c;
}

void DetectorConfig::validate() const {
  resnet::resnet_check_config(backbone);
  detr.validate();
  const auto channels = resnet::resnet_feature_channels(backbone);
  if (channels != detr.backbone_channels) {
    throw std::invalid_argument(fmt::format(
        "[DetectorConfig] detr.backbone_channels [{}] differ from the backbone's C3-C5 channels "
        "[{}]",
        fmt::join(detr.backbone_channels, ", "), fmt::join(channels, ", ")));
  }
}

}  // namespace mfx::detr
