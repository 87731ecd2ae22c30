// CheckpointInfo <-> the JSON metadata of a detector checkpoint.
#include "mfx/train/checkpoint_info.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

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

coco::TransformConfig CheckpointInfo::val_transforms() const {
  coco::TransformConfig t;
  t.train = false;
  t.val_size = val_size;
  t.max_size = max_size;
  return t;
}

CheckpointInfo make_checkpoint_info(const models::DetectorConfig& model,
                                    const std::string& criterion,
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
  json j{{"model", json::parse(models::detector_config_to_json(info.model))},
         {"criterion", info.criterion},
         {"val_transforms", {{"val_size", info.val_size}, {"max_size", info.max_size}}},
         {"categories", info.category_ids},
         {"class_names", info.class_names}};
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
    info.model = models::detector_config_from_json(j["model"].dump());
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  const json& crit = field(j, "criterion", source);
  if (!crit.is_string()) fail(source, "'criterion' must be a string");
  info.criterion = crit.get<std::string>();
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
