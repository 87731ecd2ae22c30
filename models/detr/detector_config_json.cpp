// DetectorConfig <-> JSON text, so a checkpoint carries what it takes to
// rebuild its model. Reading is strict (every field required, unknown fields
// rejected): a silently defaulted or ignored field would build a different
// network than the one the parameters were trained for.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mfx/detr/detector.h"

namespace mfx::detr {

namespace {

using json = nlohmann::json;
constexpr const char* kFn = "[detector_config_from_json]";

const char* depth_name(resnet::ResNetDepth d) {
  switch (d) {
    case resnet::ResNetDepth::R18:
      return "r18";
    case resnet::ResNetDepth::R34:
      return "r34";
    case resnet::ResNetDepth::R50:
      return "r50";
  }
  return "r50";
}

// Reads the fields of one object, remembering which were used so that the
// leftovers can be reported as unknown.
class Reader {
 public:
  Reader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {
    if (!obj_.is_object()) {
      throw std::invalid_argument(
          fmt::format("{} '{}' must be an object, got {}", kFn, where_, obj_.type_name()));
    }
  }

  const json& get(const char* name) {
    auto it = obj_.find(name);
    if (it == obj_.end()) {
      throw std::invalid_argument(fmt::format("{} missing field '{}.{}'", kFn, where_, name));
    }
    used_.insert(name);
    return *it;
  }
  bool has(const char* name) const { return obj_.contains(name); }
  int64_t integer(const char* name) {
    const json& v = get(name);
    if (!v.is_number_integer()) bad(name, "an integer", v);
    return v.get<int64_t>();
  }
  double number(const char* name) {
    const json& v = get(name);
    if (!v.is_number()) bad(name, "a number", v);
    return v.get<double>();
  }
  bool boolean(const char* name) {
    const json& v = get(name);
    if (!v.is_boolean()) bad(name, "true or false", v);
    return v.get<bool>();
  }
  std::vector<int64_t> integers(const char* name) {
    const json& v = get(name);
    if (!v.is_array()) bad(name, "an array of integers", v);
    std::vector<int64_t> out;
    for (const json& x : v) {
      if (!x.is_number_integer()) bad(name, "an array of integers", v);
      out.push_back(x.get<int64_t>());
    }
    return out;
  }
  std::string string(const char* name) {
    const json& v = get(name);
    if (!v.is_string()) bad(name, "a string", v);
    return v.get<std::string>();
  }
  // Throws for fields that no get() asked for.
  void finish() const {
    for (const auto& [key, value] : obj_.items()) {
      if (!used_.count(key)) {
        throw std::invalid_argument(fmt::format(
            "{} unknown field '{}.{}' (written by a newer version?)", kFn, where_, key));
      }
    }
  }

 private:
  [[noreturn]] void bad(const char* name, const char* expected, const json& v) const {
    throw std::invalid_argument(
        fmt::format("{} field '{}.{}' must be {}, got {}", kFn, where_, name, expected, v.dump()));
  }

  const json& obj_;
  std::string where_;
  std::set<std::string> used_;
};

}  // namespace

std::string detector_config_to_json(const DetectorConfig& cfg) {
  const resnet::ResNetConfig& b = cfg.backbone;
  const DeformableDetrConfig& d = cfg.detr;
  json j{{"backbone",
          {{"depth", depth_name(b.depth)},
           {"train_stem_and_layer1", b.train_stem_and_layer1},
           {"dilation_c5", b.dilation_c5},
           {"width_divisor", b.width_divisor},
           {"norm", resnet::to_string(b.norm)},
           {"norm_groups", b.norm_groups},
           {"zero_init_residual", b.zero_init_residual}}},
         {"detr",
          {{"d_model", d.d_model},
           {"nheads", d.nheads},
           {"enc_layers", d.enc_layers},
           {"dec_layers", d.dec_layers},
           {"dim_ff", d.dim_ff},
           {"dropout", d.dropout},
           {"num_queries", d.num_queries},
           {"num_feature_levels", d.num_feature_levels},
           {"enc_points", d.enc_points},
           {"dec_points", d.dec_points},
           {"num_classes", d.num_classes},
           {"backbone_channels", d.backbone_channels},
           {"backbone_strides", d.backbone_strides},
           {"gn_groups", d.gn_groups},
           {"two_stage", d.two_stage}}}};
  return j.dump();
}

DetectorConfig detector_config_from_json(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw std::invalid_argument(fmt::format("{} not valid JSON: '{}'", kFn,
                                            text.size() > 80 ? text.substr(0, 80) + "..." : text));
  }
  DetectorConfig cfg;
  Reader top(j, "config");
  {
    Reader r(top.get("backbone"), "backbone");
    const std::string depth = r.string("depth");
    if (depth == "r18") {
      cfg.backbone.depth = resnet::ResNetDepth::R18;
    } else if (depth == "r34") {
      cfg.backbone.depth = resnet::ResNetDepth::R34;
    } else if (depth == "r50") {
      cfg.backbone.depth = resnet::ResNetDepth::R50;
    } else {
      throw std::invalid_argument(fmt::format(
          "{} field 'backbone.depth' must be \"r18\", \"r34\" or \"r50\", got \"{}\"", kFn, depth));
    }
    cfg.backbone.train_stem_and_layer1 = r.boolean("train_stem_and_layer1");
    cfg.backbone.dilation_c5 = r.boolean("dilation_c5");
    cfg.backbone.width_divisor = static_cast<int>(r.integer("width_divisor"));
    // Written since the GroupNorm option; older files mean frozen BN.
    if (r.has("norm")) {
      cfg.backbone.norm = resnet::parse_backbone_norm(r.string("norm"), "backbone.norm");
    }
    if (r.has("norm_groups")) {
      cfg.backbone.norm_groups = static_cast<int>(r.integer("norm_groups"));
    }
    if (r.has("zero_init_residual")) {
      cfg.backbone.zero_init_residual = r.boolean("zero_init_residual");
    }
    r.finish();
  }
  {
    Reader r(top.get("detr"), "detr");
    DeformableDetrConfig& d = cfg.detr;
    d.d_model = r.integer("d_model");
    d.nheads = r.integer("nheads");
    d.enc_layers = r.integer("enc_layers");
    d.dec_layers = r.integer("dec_layers");
    d.dim_ff = r.integer("dim_ff");
    d.dropout = r.number("dropout");
    d.num_queries = r.integer("num_queries");
    d.num_feature_levels = r.integer("num_feature_levels");
    d.enc_points = r.integer("enc_points");
    d.dec_points = r.integer("dec_points");
    d.num_classes = r.integer("num_classes");
    d.backbone_channels = r.integers("backbone_channels");
    d.backbone_strides = r.integers("backbone_strides");
    d.gn_groups = r.integer("gn_groups");
    // Written since the two-stage option; older files are single-stage.
    if (r.has("two_stage")) d.two_stage = r.boolean("two_stage");
    r.finish();
  }
  top.finish();
  cfg.validate();
  return cfg;
}

}  // namespace mfx::detr
