// DeformableDetrConfig: the CPU preset and validation.
#include <string>

#include "detr/detr_common.h"

namespace mfx::detr {

DeformableDetrConfig DeformableDetrConfig::small() {
  DeformableDetrConfig c;
  c.d_model = 64;
  c.nheads = 4;
  c.enc_layers = 2;
  c.dec_layers = 2;
  c.dim_ff = 256;
  c.num_queries = 100;
  c.num_feature_levels = 3;
  c.enc_points = 4;
  c.dec_points = 4;
  c.backbone_channels = {128, 256, 512};
  c.backbone_strides = {8, 16, 32};
  return c;
}

void DeformableDetrConfig::validate() const {
  const std::string fn = "DeformableDetrConfig";
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) detail::fail(fn, std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive("d_model", d_model);
  positive("nheads", nheads);
  positive("enc_layers", enc_layers);
  positive("dec_layers", dec_layers);
  positive("dim_ff", dim_ff);
  positive("num_queries", num_queries);
  positive("num_feature_levels", num_feature_levels);
  positive("enc_points", enc_points);
  positive("dec_points", dec_points);
  positive("num_classes", num_classes);
  positive("gn_groups", gn_groups);
  if (d_model % nheads != 0) {
    detail::fail(fn, "nheads " + std::to_string(nheads) + " does not divide d_model " +
                         std::to_string(d_model));
  }
  if (d_model % gn_groups != 0) {
    detail::fail(fn, "gn_groups " + std::to_string(gn_groups) + " does not divide d_model " +
                         std::to_string(d_model));
  }
  if (d_model % 2 != 0) {
    detail::fail(fn, "d_model must be even (sine encoding), got " + std::to_string(d_model));
  }
  if (two_stage && d_model % 4 != 0) {
    detail::fail(fn, "two_stage needs d_model divisible by 4 (the proposals' sine embedding), got " +
                         std::to_string(d_model));
  }
  if (!(dropout >= 0.0 && dropout < 1.0)) {
    detail::fail(fn, "dropout must be in [0, 1), got " + std::to_string(dropout));
  }
  if (backbone_channels.empty() || backbone_channels.size() != backbone_strides.size()) {
    detail::fail(fn, "backbone_channels (" + std::to_string(backbone_channels.size()) +
                         ") and backbone_strides (" + std::to_string(backbone_strides.size()) +
                         ") must be non-empty lists of the same length");
  }
  for (size_t i = 0; i < backbone_channels.size(); ++i) {
    positive("backbone_channels[i]", backbone_channels[i]);
    positive("backbone_strides[i]", backbone_strides[i]);
  }
  if (num_feature_levels < static_cast<int64_t>(backbone_channels.size())) {
    detail::fail(fn, "num_feature_levels " + std::to_string(num_feature_levels) +
                         " is smaller than the number of backbone levels " +
                         std::to_string(backbone_channels.size()));
  }
}

}  // namespace mfx::detr
