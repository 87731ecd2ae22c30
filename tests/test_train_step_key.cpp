// The jitted step's compile-cache key comes from the loss configuration's
// JSON: every setting the JSON holds changes the key, found by walking the
// JSON, so a field added to the serialisation is covered without editing
// this test.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "mfx/mfx.h"
#include "mfx/resnet/resnet.h"
#include "mfx/train/loss_config_json.h"
#include "test_utils.h"

using namespace mfx;
using json = nlohmann::json;

namespace {

// Every leaf of j as a JSON pointer.
void leaves(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) leaves(v, at / k, out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) leaves(j[i], at / i, out);
  } else {
    out.push_back(at);
  }
}

// Other values to try for a leaf: the configuration must stay valid, so
// numbers get several candidates and names every spelling a field takes.
std::vector<json> alternatives(const json& v) {
  if (v.is_boolean()) return {!v.get<bool>()};
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    return {x + 1, 2 * x, x - 1, x / 2, 2 * x + 2};
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    return {x / 2, 2 * x + 1, x + 0.25, x - 0.25};
  }
  // Names of enums: norm, probe_logits, attention, selection, depth, backbone norm.
  return {"sum",       "max",    "none", "scaled", "cosine", "softmax",           "sinkhorn",
          "threshold", "greedy", "r18",  "r34",    "r50",    "frozen_batch_norm", "group_norm"};
}

// The detector's input channels follow the backbone's C3-C5 channels, so a
// changed depth or width divisor carries them along (or the configuration
// would be invalid whatever the new value).
void follow_backbone(json& j) {
  const json& b = j["model"]["backbone"];
  resnet::ResNetConfig r;
  const std::string depth = b["depth"].get<std::string>();
  r.depth = depth == "r50"   ? resnet::ResNetDepth::R50
            : depth == "r34" ? resnet::ResNetDepth::R34
                             : resnet::ResNetDepth::R18;
  r.dilation_c5 = b["dilation_c5"].get<bool>();
  r.width_divisor = b["width_divisor"].get<int>();
  try {
    j["model"]["detr"]["backbone_channels"] = resnet::resnet_feature_channels(r);
  } catch (const std::exception&) {
    // An invalid backbone: loss_config_from_json rejects it.
  }
}

}  // namespace

TEST_CASE("loss_config_to_json round-trips and every setting changes the jit cache key",
          "[train][jit_key]") {
  // Three detectors, so that every setting has a valid other value in one of
  // them (dilation_c5 needs the ResNet-50 of coco_r50, zero_init_residual a
  // group-norm backbone).
  std::vector<json> bases;
  auto group_norm = detr::DetectorConfig::small_cpu(5);
  group_norm.backbone.norm = resnet::BackboneNorm::group_norm;
  for (const auto& model :
       {detr::DetectorConfig::coco_r50(), detr::DetectorConfig::small_cpu(5), group_norm}) {
    detr::LossConfig cfg;
    cfg.model = model;
    const json j = json::parse(train::loss_config_to_json(cfg));
    REQUIRE(json::parse(train::loss_config_to_json(train::loss_config_from_json(j.dump()))) == j);
    const std::string key = train::jit_step_cache_key(cfg, criteria::Criterion::matchfree, false);
    CHECK(train::jit_step_cache_key(cfg, criteria::Criterion::hungarian, false) != key);
    CHECK(train::jit_step_cache_key(cfg, criteria::Criterion::matchfree, true) != key);
    bases.push_back(j);
  }

  std::vector<json::json_pointer> paths;
  leaves(bases[0], json::json_pointer(), paths);
  REQUIRE(paths.size() > 40);
  for (const auto& path : paths) {
    // The detector's input channels per level are the backbone's
    // (DetectorConfig::validate): they change with the backbone's fields.
    if (path.to_string().rfind("/model/detr/backbone_channels/", 0) == 0) continue;
    INFO(path.to_string());
    bool changed = false;
    for (const json& base : bases) {
      const std::string key = train::jit_step_cache_key(train::loss_config_from_json(base.dump()),
                                                        criteria::Criterion::matchfree, false);
      for (const json& alt : alternatives(base[path])) {
        if (alt == base[path]) continue;
        json perturbed = base;
        perturbed[path] = alt;
        follow_backbone(perturbed);
        detr::LossConfig other;
        try {
          other = train::loss_config_from_json(perturbed.dump());
        } catch (const std::exception&) {
          continue;  // not a valid configuration: try the next value
        }
        CHECK(train::jit_step_cache_key(other, criteria::Criterion::matchfree, false) != key);
        changed = true;
        break;
      }
      if (changed) break;
    }
    CHECK(changed);
  }
}

TEST_CASE("loss_config_from_json names a missing or mistyped field", "[train][jit_key]") {
  json j = json::parse(train::loss_config_to_json(detr::LossConfig{}));
  json no_train = j;
  no_train.erase("train");
  mfx::test::check_throws_with([&] { train::loss_config_from_json(no_train.dump()); },
                               {"[loss_config_from_json]", "train"});
  json bad = j;
  bad["hungarian"]["w_giou"] = "two";
  mfx::test::check_throws_with([&] { train::loss_config_from_json(bad.dump()); },
                               {"[loss_config_from_json]", "hungarian.w_giou"});
}
