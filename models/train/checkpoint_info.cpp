// CheckpointInfo <-> the JSON metadata of a detector checkpoint.
#include "mfx/train/checkpoint_info.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "config_json.h"
#include "mfx/train/checkpoint.h"

namespace mfx::train {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error(fmt::format("[checkpoint_info] {}: {}", source, what));
}

const json& field(const json& obj, const char* name, const std::string& source) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(source, fmt::format("metadata field '{}' is missing", name));
  return *it;
}

int positive_int(const json& obj, const char* name, const std::string& source) {
  const json& v = field(obj, name, source);
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > (1 << 20)) {
    fail(source,
         fmt::format("'val_transforms.{}' must be a positive integer, got {}", name, v.dump()));
  }
  return static_cast<int>(v.get<int64_t>());
}

}  // namespace

namespace detail {

criteria::MatchFreeConfig matchfree_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "'matchfree' must be an object");
  auto number = [&](const json& obj, const char* name, const std::string& path) {
    auto it = obj.find(name);
    if (it == obj.end() || !it->is_number()) {
      fail(source, fmt::format("'{}{}' must be a number", path, name));
    }
    return it->get<double>();
  };
  auto text = [&](const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
      fail(source, fmt::format("'matchfree.{}' must be a string", name));
    }
    return it->get<std::string>();
  };
  criteria::MatchFreeConfig m;
  try {
    m.rho = number(j, "rho", "matchfree.");
    m.eps = number(j, "eps", "matchfree.");
    m.norm = criteria::parse_norm(text("norm"), "matchfree.norm");
    m.alpha_w = number(j, "alpha_w", "matchfree.");
    m.beta_q = number(j, "beta_q", "matchfree.");
    m.w_ce = number(j, "w_ce", "matchfree.");
    m.w_bbox = number(j, "w_bbox", "matchfree.");
    m.w_giou = number(j, "w_giou", "matchfree.");
    auto stop = j.find("probe_inputs_stop_gradient");
    if (stop == j.end() || !stop->is_boolean()) {
      fail(source, "'matchfree.probe_inputs_stop_gradient' must be a boolean");
    }
    m.probe_inputs_stop_gradient = stop->get<bool>();
    auto cost = j.find("cost");
    if (cost == j.end() || !cost->is_object()) fail(source, "'matchfree.cost' must be an object");
    m.cost.cls = number(*cost, "cls", "matchfree.cost.");
    m.cost.l1 = number(*cost, "l1", "matchfree.cost.");
    m.cost.giou = number(*cost, "giou", "matchfree.cost.");
    m.cost.alpha = number(*cost, "alpha", "matchfree.cost.");
    m.cost.gamma = number(*cost, "gamma", "matchfree.cost.");
    m.probe_logits = criteria::parse_probe_logits(text("probe_logits"), "matchfree.probe_logits");
    m.cosine_scale = number(j, "cosine_scale", "matchfree.");
    m.attention = criteria::parse_attention(text("attention"), "matchfree.attention");
    auto iters = j.find("sinkhorn_iters");
    if (iters == j.end() || !iters->is_number_integer()) {
      fail(source, "'matchfree.sinkhorn_iters' must be an integer");
    }
    m.sinkhorn_iters = static_cast<int>(iters->get<int64_t>());
    m.selection = criteria::parse_selection(text("selection"), "matchfree.selection");
    criteria::validate_matchfree_config(m, "matchfree");
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  return m;
}

nlohmann::json matchfree_to_json(const criteria::MatchFreeConfig& m) {
  return json{{"rho", m.rho},
              {"eps", m.eps},
              {"norm", criteria::to_string(m.norm)},
              {"alpha_w", m.alpha_w},
              {"beta_q", m.beta_q},
              {"w_ce", m.w_ce},
              {"w_bbox", m.w_bbox},
              {"w_giou", m.w_giou},
              {"probe_inputs_stop_gradient", m.probe_inputs_stop_gradient},
              {"cost",
               {{"cls", m.cost.cls},
                {"l1", m.cost.l1},
                {"giou", m.cost.giou},
                {"alpha", m.cost.alpha},
                {"gamma", m.cost.gamma}}},
              {"probe_logits", criteria::to_string(m.probe_logits)},
              {"cosine_scale", m.cosine_scale},
              {"attention", criteria::to_string(m.attention)},
              {"sinkhorn_iters", m.sinkhorn_iters},
              {"selection", criteria::to_string(m.selection)}};
}

}  // namespace detail

coco::TransformConfig CheckpointInfo::val_transforms() const {
  coco::TransformConfig t;
  t.train = false;
  t.val_size = val_size;
  t.max_size = max_size;
  return t;
}

CheckpointInfo make_checkpoint_info(const detr::DetectorConfig& model,
                                    criteria::Criterion criterion,
                                    const coco::TransformConfig& val_transforms,
                                    const coco::DetectionDataset& data) {
  CheckpointInfo info;
  info.model = model;
  info.criterion = criterion;
  info.val_size = val_transforms.val_size;
  info.max_size = val_transforms.max_size;
  info.category_ids = data.category_ids();
  std::map<int64_t, std::string> names;
  for (const auto& c : data.dataset().categories) names[c.id] = c.name;
  for (int64_t id : info.category_ids) info.class_names.push_back(names[id]);
  return info;
}

std::string checkpoint_info_to_json(const CheckpointInfo& info) {
  json j{{"model", json::parse(detr::detector_config_to_json(info.model))},
         {"criterion", criteria::to_string(info.criterion)},
         {"val_transforms", {{"val_size", info.val_size}, {"max_size", info.max_size}}},
         {"categories", info.category_ids},
         {"class_names", info.class_names}};
  if (info.matchfree) j["matchfree"] = detail::matchfree_to_json(*info.matchfree);
  return j.dump();
}

CheckpointInfo checkpoint_info_from_json(const std::string& extra, const std::string& source) {
  json j = json::parse(extra, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail(source, "metadata is not a JSON object");
  if (!j.contains("model")) {
    fail(source,
         "no model configuration in the metadata (a checkpoint written before train::fit "
         "stored it); retrain to get a self-describing checkpoint");
  }
  CheckpointInfo info;
  try {
    info.model = detr::detector_config_from_json(j["model"].dump());
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  const json& crit = field(j, "criterion", source);
  if (!crit.is_string()) fail(source, "'criterion' must be a string");
  try {
    info.criterion = criteria::parse_criterion(crit.get<std::string>(), "'criterion'");
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  const json& vt = field(j, "val_transforms", source);
  if (!vt.is_object()) fail(source, "'val_transforms' must be an object");
  info.val_size = positive_int(vt, "val_size", source);
  info.max_size = positive_int(vt, "max_size", source);
  const json& cats = field(j, "categories", source);
  if (!cats.is_array()) fail(source, "'categories' must be an array of category ids");
  for (const json& c : cats) {
    if (!c.is_number_integer()) fail(source, "'categories' must be an array of category ids");
    info.category_ids.push_back(c.get<int64_t>());
  }
  if (static_cast<int64_t>(info.category_ids.size()) != info.model.detr.num_classes) {
    fail(source, fmt::format("{} categories for a model with num_classes {}",
                             info.category_ids.size(), info.model.detr.num_classes));
  }
  // Names are optional (older metadata, datasets without names).
  if (j.contains("class_names")) {
    const json& names = j["class_names"];
    if (!names.is_array() || names.size() != info.category_ids.size()) {
      fail(source, "'class_names' must be an array with one name per category");
    }
    for (const json& n : names) {
      if (!n.is_string()) fail(source, "'class_names' must hold strings");
      info.class_names.push_back(n.get<std::string>());
    }
  } else {
    info.class_names.assign(info.category_ids.size(), "");
  }
  if (j.contains("matchfree")) info.matchfree = detail::matchfree_from_json(j["matchfree"], source);
  return info;
}

TrainedDetector load_trained_detector(const std::string& path) {
  Checkpoint c = load_checkpoint(path);
  TrainedDetector d;
  d.info = checkpoint_info_from_json(c.extra, path);
  const bool nested = c.params.is_dict() && c.params.dict().count("model");
  d.params = nested ? c.params["model"] : c.params;
  d.epoch = c.epoch;
  d.step = c.step;
  return d;
}

}  // namespace mfx::train
