// Named training recipes (`train_coco --preset NAME`): the detector, the
// transforms, the schedule and, for the generated set, the data generator's
// settings that belong together.
//
//   scratch  the default: a small detector whose whole backbone (GroupNorm,
//            stem included) trains from random weights at the full rate, on
//            generated sets of medium and large shapes that do not hide
//            each other, with little clutter; the recipe that learns on a
//            2-core CPU (34 AP in 41 minutes; docs/results.md §6.5-6.8).
//   small    the same detector size with the reference's choices for a
//            pretrained backbone (frozen BatchNorm, stem and layer1 frozen,
//            backbone at 0.1x) on the harder generated set with small
//            objects: what a random backbone gets from the reference recipe.
//   r50      the reference Deformable DETR configuration (ResNet-50, frozen
//            BatchNorm and stem, COCO transforms, lr 2e-4 dropped after 4/5).
#pragma once

#include <string>
#include <vector>

#include "mfx/coco/synthetic.h"
#include "mfx/train/fit.h"

namespace mfx::train {

struct Preset {
  std::string name;
  /// Model, transforms, lr, backbone_lr_scale, epochs, batch size and
  /// criterion; data_dir and out_dir are left empty.
  FitConfig fit;
  /// The generated set's settings when no data folder is given (seed,
  /// num_train and num_val are the tool's to set).
  coco::SyntheticConfig synthetic;
  /// The learning rate drops x0.1 after this fraction of the epochs
  /// (lr_drop_epoch = epochs * lr_drop_fraction, set by apply_schedule).
  double lr_drop_fraction = 2.0 / 3.0;
};

/// The preset called `name` for generated images of about `image_size`
/// pixels (scratch and small; 0: the preset's own, 128 and 160; r50 ignores
/// it). Throws std::invalid_argument naming the preset names for an unknown
/// name and the range for an image size outside [32, 4096].
Preset make_preset(const std::string& name, int image_size = 0);

/// Every name make_preset accepts, the default first.
const std::vector<std::string>& preset_names();

/// Sets fit.lr_drop_epoch from fit.epochs and the preset's drop fraction
/// (after the epoch count is final, e.g. after command-line flags).
void apply_schedule(Preset& preset);

}  // namespace mfx::train
