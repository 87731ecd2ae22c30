// The named training recipes: what each one sets, that the reference
// configuration stays the reference's, and the errors for bad names/sizes.
#include "mfx/train/preset.h"

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

TEST_CASE("presets: names, defaults and schedules") {
  CHECK(train::preset_names() == std::vector<std::string>{"scratch", "small", "r50"});
  for (const auto& name : train::preset_names()) {
    INFO(name);
    auto p = train::make_preset(name);
    CHECK(p.name == name);
    CHECK(p.fit.criterion == criteria::Criterion::hungarian);
    CHECK_NOTHROW(p.fit.model.validate());
    CHECK_NOTHROW(coco::validate(p.fit.train_transforms));
    CHECK(p.fit.lr_drop_epoch == static_cast<int>(p.fit.epochs * p.lr_drop_fraction));
  }
  // scratch: the whole backbone trains from random weights, with GroupNorm,
  // on medium and large shapes only.
  auto s = train::make_preset("scratch");
  CHECK(s.fit.model.backbone.norm == resnet::BackboneNorm::group_norm);
  CHECK(s.fit.model.backbone.train_stem_and_layer1);
  CHECK(s.fit.backbone_lr_scale == 1.0);
  CHECK(s.synthetic.p_small == 0.0);
  CHECK(s.fit.val_transforms.val_size == 128);
  CHECK(train::make_preset("scratch", 96).fit.val_transforms.val_size == 96);
  CHECK(train::make_preset("scratch", 96).synthetic.max_side == 120);
  // small keeps the reference's choices for a pretrained backbone.
  auto m = train::make_preset("small");
  CHECK(m.fit.model.backbone.norm == resnet::BackboneNorm::frozen_batch_norm);
  CHECK_FALSE(m.fit.model.backbone.train_stem_and_layer1);
  CHECK(m.fit.backbone_lr_scale == 0.1);
  CHECK(m.fit.val_transforms.val_size == 160);
  // r50 is the reference configuration, whatever the image size.
  auto r = train::make_preset("r50", 96);
  const auto ref = detr::DetectorConfig::coco_r50();
  CHECK(detr::detector_config_to_json(r.fit.model) == detr::detector_config_to_json(ref));
  CHECK(r.fit.lr == 2e-4);
  CHECK(r.fit.backbone_lr_scale == 0.1);
  CHECK(r.fit.train_transforms.max_size == coco::detr_train_transforms().max_size);
  CHECK(r.fit.val_transforms.val_size == coco::detr_val_transforms().val_size);
  r.fit.epochs = 50;
  train::apply_schedule(r);
  CHECK(r.fit.lr_drop_epoch == 40);
}

TEST_CASE("presets: unknown names and bad image sizes") {
  check_throws_with([] { train::make_preset("tiny"); },
                    {"[train::make_preset]", "'tiny'", "scratch, small, r50"});
  check_throws_with([] { train::make_preset("scratch", 16); },
                    {"[train::make_preset]", "image_size", "16"});
}
