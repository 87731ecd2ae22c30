// Training a detector end to end: data from a COCO-format folder, the
// Hungarian or match-free criterion, AdamW with the reference parameter
// groups, gradient clipping, a step learning-rate drop, evaluation with
// COCOeval every epoch, atomic checkpoints with identical continuation on
// resume, a NaN/inf guard that stops and keeps the last good checkpoint,
// metrics (JSONL/CSV), PNG plots and a progress line.
#pragma once

#include <array>
#include <functional>
#include <string>

#include "mfx/coco/data.h"
#include "mfx/models/detector.h"
#include "mfx/train/checkpoint_info.h"

namespace mfx::train {

struct FitConfig {
  /// COCO-format folder: images/ + annotations/instances_{train,val}.json
  /// (the synthetic set's layout) or COCO's train2017/, val2017/ +
  /// annotations/instances_{train,val}2017.json.
  std::string data_dir;
  /// Checkpoints, metrics.jsonl/.csv, loss.png, ap.png, eval_*.json go here.
  std::string out_dir;
  /// "matchfree" or "hungarian".
  std::string criterion = "matchfree";
  models::DetectorConfig model = models::DetectorConfig::small_cpu();
  coco::TransformConfig train_transforms;
  coco::TransformConfig val_transforms;
  int epochs = 10;
  int batch_size = 4;
  int num_workers = 2;
  double lr = 2e-4;
  double weight_decay = 1e-4;
  double clip_max_norm = 0.1;
  /// Learning-rate multiplier of the backbone: the reference's 0.1 for a
  /// pretrained backbone; 1 for one trained from scratch.
  double backbone_lr_scale = 0.1;
  /// Epoch after which the learning rate is multiplied by 0.1 (-1: never).
  int lr_drop_epoch = -1;
  uint64_t seed = 0;
  /// Continue from out_dir/last.safetensors when it exists.
  bool resume = false;
  /// Stop an epoch after this many steps (tests; -1: the whole epoch).
  int max_steps_per_epoch = -1;
  /// Evaluate on the validation split every this many epochs (0: never).
  int eval_every = 1;
  /// Progress lines (stderr by default).
  bool progress = true;
};

struct FitResult {
  int64_t epochs_done = 0;
  int64_t steps = 0;
  double last_loss = 0;
  std::array<double, 12> last_stats{};  ///< COCOeval summary of the last evaluation
  bool stopped_non_finite = false;      ///< the guard stopped training
};

/// Trains as configured; throws std::invalid_argument naming the field for a
/// bad configuration and std::runtime_error naming the path for data errors.
FitResult fit(const FitConfig& config);

/// COCOeval of `params` (a detector Tree) on a dataset (its validation
/// transforms apply), in batches.
std::array<double, 12> evaluate_detector(const Tree& params, const models::DetectorConfig& model,
                                         const coco::DetectionDataset& data, int batch_size,
                                         const std::string& results_json = "");

}  // namespace mfx::train
