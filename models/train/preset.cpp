// The named training recipes of train_coco (see include/mfx/train/preset.h).
#include "mfx/train/preset.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

namespace mfx::train {

namespace {

// Transforms of the CPU presets: multi-scale training around `size`
// (random flip, resize, crop) and a fixed validation size.
void cpu_transforms(FitConfig& f, int size) {
  f.train_transforms.scales = {size - 32, size - 16, size};
  f.train_transforms.max_size = size * 5 / 3;
  f.train_transforms.crop_scales = {size * 2 / 3, size};
  f.train_transforms.crop_min = size / 2;
  f.train_transforms.crop_max = size;
  f.val_transforms.val_size = size;
  f.val_transforms.max_size = size * 5 / 3;
}

// Generated images of `size` +- 25 % per side.
void cpu_synthetic(coco::SyntheticConfig& s, int size) {
  s.min_side = size * 3 / 4;
  s.max_side = size * 5 / 4;
  s.num_classes = 4;
}

Preset scratch(int size) {
  Preset p;
  p.name = "scratch";
  FitConfig& f = p.fit;
  f.model = detr::DetectorConfig::small_cpu();
  // A random backbone has no statistics to freeze: GroupNorm normalises it,
  // and all of it (stem and layer1 too) trains at the detector's rate.
  f.model.backbone.norm = resnet::BackboneNorm::group_norm;
  // Residual branches start at full scale: zero-initialised ones barely
  // open in this budget (docs/results.md §6.7).
  f.model.backbone.zero_init_residual = false;
  f.model.backbone.train_stem_and_layer1 = true;
  f.backbone_lr_scale = 1.0;
  // At most 4 objects per image: 20 queries suffice and learn faster than
  // 50; without dropout the small transformer fits faster in this budget.
  f.model.detr.num_queries = 20;
  f.model.detr.dropout = 0;
  f.criterion = criteria::Criterion::hungarian;
  f.lr = 3e-4;
  f.batch_size = 4;
  // 34 AP at 24 epochs (41 minutes on 2 cores; lr x0.1 after epoch 16);
  // 30 AP at 20 (docs/results.md §6.8).
  f.epochs = 24;
  cpu_transforms(f, size);
  coco::SyntheticConfig& s = p.synthetic;
  cpu_synthetic(s, size);
  // Medium and large shapes, little clutter: a task a from-scratch backbone
  // can learn in CPU minutes (small objects need more than 2 cores give).
  s.num_train = 1024;
  s.num_val = 64;
  s.max_objects = 4;
  s.p_small = 0;
  s.max_distractor_lines = 2;
  // No shape hidden behind another: with any overlap, a third of the
  // objects had over 80 % of their box covered (docs/results.md §6.8).
  s.max_box_overlap = 0.3;
  return p;
}

Preset small(int size) {
  Preset p;
  p.name = "small";
  FitConfig& f = p.fit;
  f.model = detr::DetectorConfig::small_cpu();
  f.model.detr.num_queries = 50;
  f.criterion = criteria::Criterion::hungarian;
  f.lr = 1e-3;
  f.batch_size = 4;
  f.epochs = 30;
  cpu_transforms(f, size);
  cpu_synthetic(p.synthetic, size);
  p.synthetic.num_train = 256;
  p.synthetic.num_val = 64;
  return p;
}

Preset r50() {
  Preset p;
  p.name = "r50";
  FitConfig& f = p.fit;
  f.model = detr::DetectorConfig::coco_r50();
  f.train_transforms = coco::detr_train_transforms();
  f.val_transforms = coco::detr_val_transforms();
  f.criterion = criteria::Criterion::hungarian;
  f.lr = 2e-4;
  f.batch_size = 4;
  f.epochs = 30;
  p.lr_drop_fraction = 0.8;
  // Generated images at COCO's scale.
  cpu_synthetic(p.synthetic, 640);
  p.synthetic.num_train = 256;
  p.synthetic.num_val = 64;
  return p;
}

}  // namespace

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names{"scratch", "small", "r50"};
  return names;
}

Preset make_preset(const std::string& name, int image_size) {
  if (image_size != 0 && (image_size < 32 || image_size > 4096)) {
    throw std::invalid_argument(fmt::format(
        "[train::make_preset] image_size must be 0 (the preset's) or in [32, 4096], got {}",
        image_size));
  }
  Preset p;
  if (name == "scratch") {
    p = scratch(image_size ? image_size : 128);
  } else if (name == "small") {
    p = small(image_size ? image_size : 160);
  } else if (name == "r50") {
    p = r50();
  } else {
    throw std::invalid_argument(fmt::format("[train::make_preset] unknown preset '{}' (one of {})",
                                            name, fmt::join(preset_names(), ", ")));
  }
  apply_schedule(p);
  return p;
}

void apply_schedule(Preset& preset) {
  preset.fit.lr_drop_epoch = static_cast<int>(preset.fit.epochs * preset.lr_drop_fraction);
}

}  // namespace mfx::train
