// check_fit_config and fit_config_json (see include/mfx/train/fit.h): every
// field checked before any work, and the resolved configuration as JSON.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "config_json.h"
#include "mfx/train/fit.h"

namespace mfx::train {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument(fmt::format("[fit] {} {}", field, why));
}

void at_least(const char* field, double value, double lo) {
  if (!(value >= lo)) bad(field, fmt::format("must be >= {}, got {}", lo, value));
}

nlohmann::json transforms_json(const coco::TransformConfig& t) {
  return {{"scales", t.scales},        {"max_size", t.max_size},   {"flip_prob", t.flip_prob},
          {"crop_prob", t.crop_prob},  {"crop_scales", t.crop_scales}, {"crop_min", t.crop_min},
          {"crop_max", t.crop_max},    {"val_size", t.val_size}};
}

}  // namespace

void check_fit_config(const FitConfig& c) {
  if (c.epochs < 1 || c.batch_size < 1) {
    bad("epochs and batch_size",
        fmt::format("must be >= 1, got epochs ({}) and batch_size ({})", c.epochs, c.batch_size));
  }
  if (!(c.lr > 0) || !std::isfinite(c.lr)) bad("lr", fmt::format("must be > 0, got {}", c.lr));
  at_least("weight_decay", c.weight_decay, 0);
  if (!(c.clip_max_norm > 0)) {
    bad("clip_max_norm", fmt::format("must be > 0, got {}", c.clip_max_norm));
  }
  at_least("backbone_lr_scale", c.backbone_lr_scale, 0);
  at_least("num_workers", c.num_workers, 0);
  at_least("lr_drop_epoch", c.lr_drop_epoch, -1);
  at_least("eval_every", c.eval_every, 0);
  at_least("save_every", c.save_every, 0);
  if (c.max_steps_per_epoch == 0 || c.max_steps_per_epoch < -1) {
    bad("max_steps_per_epoch", fmt::format("must be >= 1 or -1 (all), got {}",
                                           c.max_steps_per_epoch));
  }
  if (c.probe_warmup_steps < 0) {
    bad("probe_warmup_steps", fmt::format("must be >= 0, got {}", c.probe_warmup_steps));
  }
  if (c.pad_multiple < 1) bad("pad_multiple", fmt::format("must be >= 1, got {}", c.pad_multiple));
  if (c.collapse_images < 0) {
    bad("collapse_images", fmt::format("must be >= 0, got {}", c.collapse_images));
  }
  if (c.data_dir.empty()) bad("data_dir", "is empty");
  if (c.out_dir.empty()) bad("out_dir", "is empty");
  coco::validate(c.train_transforms);
  coco::validate(c.val_transforms);
  if (c.criterion == criteria::Criterion::matchfree) {
    criteria::validate_matchfree_config(c.matchfree, "fit");
  }
  // The class count comes from the data; everything else is checked here.
  detr::DetectorConfig m = c.model;
  if (m.detr.num_classes < 1) m.detr.num_classes = 1;
  m.validate();
}

std::string fit_config_json(const FitConfig& c) {
  nlohmann::json j{{"data_dir", c.data_dir},
                   {"out_dir", c.out_dir},
                   {"criterion", criteria::to_string(c.criterion)},
                   {"epochs", c.epochs},
                   {"batch_size", c.batch_size},
                   {"num_workers", c.num_workers},
                   {"lr", c.lr},
                   {"weight_decay", c.weight_decay},
                   {"clip_max_norm", c.clip_max_norm},
                   {"backbone_lr_scale", c.backbone_lr_scale},
                   {"lr_drop_epoch", c.lr_drop_epoch},
                   {"seed", c.seed},
                   {"resume", c.resume},
                   {"resume_or_start", c.resume_or_start},
                   {"save_every", c.save_every},
                   {"init_from", c.init_from},
                   {"max_steps_per_epoch", c.max_steps_per_epoch},
                   {"eval_every", c.eval_every},
                   {"fusion_report", c.fusion_report},
                   {"jit", c.jit},
                   {"probe_warmup_steps", c.probe_warmup_steps},
                   {"device", c.device.str()},
                   {"pad_multiple", c.pad_multiple},
                   {"collapse_images", c.collapse_images},
                   {"model", nlohmann::json::parse(detr::detector_config_to_json(c.model))},
                   {"train_transforms", transforms_json(c.train_transforms)},
                   {"val_transforms", transforms_json(c.val_transforms)}};
  if (c.criterion == criteria::Criterion::matchfree) {
    j["matchfree"] = detail::matchfree_to_json(c.matchfree);
  }
  return j.dump(2) + "\n";
}

}  // namespace mfx::train
