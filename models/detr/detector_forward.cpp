// The detector's forward pass: ResNet C3-C5 -> Deformable DETR.
#include <fmt/format.h>

#include <stdexcept>

#include "mfx/detr/detector.h"
#include "mfx/ops.h"

namespace mfx::detr {

criteria::DecoderOutputs detector_forward(const Tree& params, const array& images,
                                          const array& mask, const DetectorConfig& cfg, bool train,
                                          const std::optional<array>& key) {
  cfg.validate();
  if (!images.valid() || images.ndim() != 4 || !mask.valid() || mask.ndim() != 3 ||
      mask.dtype() != bool_ || images.shape(0) != mask.shape(0) ||
      images.shape(2) != mask.shape(1) || images.shape(3) != mask.shape(2)) {
    throw std::invalid_argument(fmt::format(
        "[detector_forward] expected images [B, 3, H, W] and a bool mask [B, H, W], got images "
        "{} and mask {} {}",
        images.valid() ? shape_str(images.shape()) : "none",
        mask.valid() ? shape_str(mask.shape()) : "none",
        mask.valid() ? dtype_name(mask.dtype()) : ""));
  }
  const Tree& body = detector_backbone_params(params);
  // Compute in the parameters' dtype, as deformable_detr_forward does.
  const Dtype dtype = body.contains("conv1.weight") ? body.at("conv1.weight").dtype() : float32;
  const array x = images.dtype() == dtype ? images : astype(images, dtype);
  const resnet::Features f = resnet::resnet_forward(body, x, cfg.backbone);
  return deformable_detr_forward(params, {f.c3, f.c4, f.c5}, mask, cfg.detr, train, key);
}

}  // namespace mfx::detr
