// Detector parameters: the backbone under "backbone.0.body." next to the
// transformer, trainability and parameter counts.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mfx/detr/detector.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

bool starts_with(const std::string& s, const std::string& head) {
  return s.compare(0, head.size(), head) == 0;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

Tree init_detector(const array& key, const DetectorConfig& cfg, Dtype dtype) {
  cfg.validate();
  if (!is_floating(dtype)) {
    throw std::invalid_argument(
        fmt::format("[init_detector] dtype must be floating, got {}", dtype_name(dtype)));
  }
  std::vector<std::pair<std::string, array>> items;
  const std::string prefix = detector_backbone_prefix;
  for (auto& [path, leaf] : resnet::init_resnet(random::fold_in(key, 0), cfg.backbone).flatten()) {
    items.emplace_back(prefix + path, leaf.dtype() == dtype ? leaf : astype(leaf, dtype));
  }
  for (auto& [path, leaf] :
       init_deformable_detr(random::fold_in(key, 1), cfg.detr, dtype).flatten()) {
    items.emplace_back(path, leaf);
  }
  return Tree::from_flat(items);
}

const Tree& detector_backbone_params(const Tree& params) {
  // "backbone.0.body" is a dict holding a one-element list (from_flat).
  if (params.is_dict() && params.dict().count("backbone")) {
    const Tree& bb = params["backbone"];
    if (bb.is_list() && bb.size() == 1 && bb[0].is_dict() && bb[0].dict().count("body")) {
      return bb[0]["body"];
    }
  }
  throw std::invalid_argument(fmt::format(
      "[detector] the parameters have no backbone subtree 'backbone.0.body' (structure {})",
      params.is_dict() ? params.structure_str().substr(0, 200) : std::string("not a dict")));
}

bool detector_is_trainable(const std::string& path, const DetectorConfig& cfg) {
  const std::string prefix = detector_backbone_prefix;
  if (!starts_with(path, prefix)) return true;
  return resnet::resnet_is_trainable(path.substr(prefix.size()), cfg.backbone);
}

Tree detector_trainable_mask(const Tree& params, const DetectorConfig& cfg) {
  return params.map_with_path([&](const std::string& path, const array&) {
    return array(detector_is_trainable(path, cfg));
  });
}

DetectorParamCount detector_count_parameters(const Tree& params, const DetectorConfig& cfg) {
  DetectorParamCount c;
  for (const auto& [path, leaf] : params.flatten()) {
    if (ends_with(path, ".running_mean") || ends_with(path, ".running_var")) {
      c.buffers += leaf.size();
      continue;
    }
    c.total += leaf.size();
    if (detector_is_trainable(path, cfg)) c.trainable += leaf.size();
  }
  return c;
}

std::vector<optim::ParamGroup> detector_param_groups(const DetectorConfig& cfg,
                                                     const std::string& prefix, double slow_scale,
                                                     double backbone_scale) {
  std::vector<optim::ParamGroup> groups;
  const std::string body = prefix + detector_backbone_prefix;
  // Full paths, not fragments like ".bn1.": a pattern must never catch a
  // trainable leaf (every path ends in ".weight", ".bias" or a BN buffer).
  for (const auto& spec : resnet::resnet_param_specs(cfg.backbone)) {
    if (!resnet::resnet_is_trainable(spec.name, cfg.backbone)) {
      groups.push_back({body + spec.name, 0.0, 0.0});
    }
  }
  groups.push_back({body, backbone_scale, std::nullopt});
  groups.push_back({"sampling_offsets", slow_scale, std::nullopt});
  groups.push_back({"reference_points", slow_scale, std::nullopt});
  return groups;
}

optim::AdamWConfig detector_adamw_config(const DetectorConfig& cfg, const std::string& prefix,
                                         double lr, double weight_decay, double backbone_scale) {
  optim::AdamWConfig c;
  c.lr = optim::constant(lr);
  c.weight_decay = weight_decay;
  c.groups = detector_param_groups(cfg, prefix, 0.1, backbone_scale);
  return c;
}

}  // namespace mfx::detr
