// What a detector checkpoint of train::fit records besides its arrays (the
// JSON text of Checkpoint::extra): the model configuration, the criterion,
// the validation resize and the label -> category mapping with class names,
// so that evaluation and inference (examples/eval_coco, examples/detect)
// rebuild everything from the file alone.
//
//   {"model": <detector_config_to_json>, "criterion": "matchfree",
//    "val_transforms": {"val_size": 160, "max_size": 266},
//    "categories": [1, 2, 3, 5], "class_names": ["rectangle", ...],
//    "matchfree": {"rho": 0.5, ..., "probe_logits": "scaled", ...}}   (match-free runs)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mfx/coco/data.h"
#include "mfx/criteria/criteria.h"
#include "mfx/criteria/criterion.h"
#include "mfx/detr/detector.h"
#include "mfx/tree.h"

namespace mfx::train {

struct CheckpointInfo {
  detr::DetectorConfig model;
  /// The criterion the model was trained with (informational; JSON
  /// "matchfree" or "hungarian").
  criteria::Criterion criterion = criteria::Criterion::hungarian;
  /// The validation resize: short side val_size, long side capped at max_size.
  int val_size = 800;
  int max_size = 1333;
  /// label -> COCO category id (DetectionDataset::category_ids).
  std::vector<int64_t> category_ids;
  /// label -> category name; empty names where the dataset had none.
  std::vector<std::string> class_names;
  /// The match-free settings of the run (informational; set for match-free
  /// runs): JSON "matchfree" with every scalar field of MatchFreeConfig, the
  /// variants (extensions beyond the paper) by name, e.g. "probe_logits":
  /// "cosine".
  std::optional<criteria::MatchFreeConfig> matchfree;

  /// TransformConfig for evaluation (train = false) with these sizes.
  coco::TransformConfig val_transforms() const;
};

/// The info of a model trained on `data`: categories and names in label order
/// from the dataset, sizes from `val_transforms`.
CheckpointInfo make_checkpoint_info(const detr::DetectorConfig& model,
                                    criteria::Criterion criterion,
                                    const coco::TransformConfig& val_transforms,
                                    const coco::DetectionDataset& data);

/// The JSON object text above (for Checkpoint::extra).
std::string checkpoint_info_to_json(const CheckpointInfo& info);

/// Parses Checkpoint::extra. Throws std::runtime_error naming `source` (the
/// checkpoint path) when "model" is absent (a checkpoint written before the
/// configuration was stored), when a field is missing or malformed, and when
/// the number of categories differs from the model's num_classes; an
/// absent "matchfree" leaves info.matchfree empty, a malformed one (missing
/// field, unknown variant name, invalid value) is an error naming the field.
CheckpointInfo checkpoint_info_from_json(const std::string& extra,
                                         const std::string& source = "<extra>");

/// A detector restored from a checkpoint of train::fit.
struct TrainedDetector {
  Tree params;  ///< the detector Tree (the checkpoint's "model" entry)
  CheckpointInfo info;
  int64_t epoch = 0, step = 0;
};

/// load_checkpoint + checkpoint_info_from_json. params is the checkpoint's
/// "model" subtree when there is one (fit saves {"model", "probe"}), else
/// the whole parameter Tree. Throws std::runtime_error naming the path (see
/// load_checkpoint and checkpoint_info_from_json).
TrainedDetector load_trained_detector(const std::string& path);

}  // namespace mfx::train
