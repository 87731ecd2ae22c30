// LossConfig <-> JSON, and the jitted step's cache key built from it.
#include "mfx/train/loss_config_json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "config_json.h"

namespace mfx::train {

namespace {

using json = nlohmann::json;

constexpr const char* source = "loss_config_from_json";

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument(fmt::format("[{}] {}", source, what));
}

const json& field(const json& obj, const char* name, const std::string& path) {
  if (!obj.is_object()) fail(fmt::format("'{}' must be an object", path));
  auto it = obj.find(name);
  if (it == obj.end()) fail(fmt::format("'{}{}' is missing", path.empty() ? "" : path + ".", name));
  return *it;
}

double number(const json& obj, const char* name, const std::string& path) {
  const json& v = field(obj, name, path);
  if (!v.is_number()) fail(fmt::format("'{}.{}' must be a number, got {}", path, name, v.dump()));
  return v.get<double>();
}

json hungarian_to_json(const criteria::HungarianConfig& h) {
  return json{{"cost",
               {{"cls", h.cost.cls},
                {"l1", h.cost.l1},
                {"giou", h.cost.giou},
                {"alpha", h.cost.alpha},
                {"gamma", h.cost.gamma}}},
              {"w_ce", h.w_ce},
              {"w_bbox", h.w_bbox},
              {"w_giou", h.w_giou}};
}

criteria::HungarianConfig hungarian_from_json(const json& j) {
  criteria::HungarianConfig h;
  const json& cost = field(j, "cost", "hungarian");
  h.cost.cls = number(cost, "cls", "hungarian.cost");
  h.cost.l1 = number(cost, "l1", "hungarian.cost");
  h.cost.giou = number(cost, "giou", "hungarian.cost");
  h.cost.alpha = number(cost, "alpha", "hungarian.cost");
  h.cost.gamma = number(cost, "gamma", "hungarian.cost");
  h.w_ce = number(j, "w_ce", "hungarian");
  h.w_bbox = number(j, "w_bbox", "hungarian");
  h.w_giou = number(j, "w_giou", "hungarian");
  return h;
}

json loss_config_json(const detr::LossConfig& cfg) {
  return json{{"model", json::parse(detr::detector_config_to_json(cfg.model))},
              {"train", cfg.train},
              {"matchfree", detail::matchfree_to_json(cfg.matchfree)},
              {"hungarian", hungarian_to_json(cfg.hungarian)}};
}

}  // namespace

std::string loss_config_to_json(const detr::LossConfig& cfg) {
  return loss_config_json(cfg).dump();
}

detr::LossConfig loss_config_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(fmt::format("not JSON: {}", e.what()));
  }
  if (!j.is_object() || j.size() != 4) {
    fail("expected an object with exactly model, train, matchfree and hungarian");
  }
  detr::LossConfig cfg;
  cfg.model = detr::detector_config_from_json(field(j, "model", "").dump());
  const json& train = field(j, "train", "");
  if (!train.is_boolean()) fail("'train' must be a boolean");
  cfg.train = train.get<bool>();
  try {
    cfg.matchfree = detail::matchfree_from_json(field(j, "matchfree", ""), source);
  } catch (const std::runtime_error& e) {
    fail(e.what());
  }
  cfg.hungarian = hungarian_from_json(field(j, "hungarian", ""));
  return cfg;
}

std::string jit_step_cache_key(const detr::LossConfig& cfg, criteria::Criterion criterion,
                               bool cuda_graph) {
  return json{{"criterion", criteria::to_string(criterion)},
              {"cuda_graph", cuda_graph},
              {"loss", loss_config_json(cfg)}}
      .dump();
}

}  // namespace mfx::train
