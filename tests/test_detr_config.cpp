// The model configuration travels with a checkpoint: DetectorConfig <-> JSON
// (strict reader), CheckpointInfo (config, criterion, validation sizes,
// categories and names) and load_trained_detector on real checkpoint files.
#include <nlohmann/json.hpp>

#include "mfx/train/checkpoint.h"
#include "mfx/train/checkpoint_info.h"
#include "test_utils.h"

using namespace mfx;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

void check_same(const detr::DetectorConfig& a, const detr::DetectorConfig& b) {
  CHECK(a.backbone.depth == b.backbone.depth);
  CHECK(a.backbone.train_stem_and_layer1 == b.backbone.train_stem_and_layer1);
  CHECK(a.backbone.dilation_c5 == b.backbone.dilation_c5);
  CHECK(a.backbone.width_divisor == b.backbone.width_divisor);
  CHECK(a.backbone.norm == b.backbone.norm);
  CHECK(a.backbone.norm_groups == b.backbone.norm_groups);
  CHECK(a.backbone.zero_init_residual == b.backbone.zero_init_residual);
  const auto &x = a.detr, &y = b.detr;
  CHECK(x.d_model == y.d_model);
  CHECK(x.nheads == y.nheads);
  CHECK(x.enc_layers == y.enc_layers);
  CHECK(x.dec_layers == y.dec_layers);
  CHECK(x.dim_ff == y.dim_ff);
  CHECK(x.dropout == y.dropout);  // exact: the text must read back to the same double
  CHECK(x.num_queries == y.num_queries);
  CHECK(x.num_feature_levels == y.num_feature_levels);
  CHECK(x.enc_points == y.enc_points);
  CHECK(x.dec_points == y.dec_points);
  CHECK(x.num_classes == y.num_classes);
  CHECK(x.backbone_channels == y.backbone_channels);
  CHECK(x.backbone_strides == y.backbone_strides);
  CHECK(x.gn_groups == y.gn_groups);
  CHECK(x.two_stage == y.two_stage);
}

// A small config with every field away from its default.
detr::DetectorConfig unusual() {
  auto c = detr::DetectorConfig::small_cpu(7);
  c.backbone.depth = resnet::ResNetDepth::R34;
  c.backbone.train_stem_and_layer1 = true;
  c.backbone.width_divisor = 4;
  c.backbone.norm = resnet::BackboneNorm::group_norm;
  c.backbone.norm_groups = 5;
  c.backbone.zero_init_residual = true;
  c.detr.backbone_channels = resnet::resnet_feature_channels(c.backbone);
  c.detr.d_model = 48;
  c.detr.nheads = 3;
  c.detr.enc_layers = 1;
  c.detr.dec_layers = 3;
  c.detr.dim_ff = 96;
  c.detr.dropout = 0.123456789012345678;
  c.detr.num_queries = 37;
  c.detr.num_feature_levels = 4;
  c.detr.enc_points = 2;
  c.detr.dec_points = 3;
  c.detr.gn_groups = 8;
  c.detr.two_stage = true;
  c.validate();
  return c;
}

// The JSON of `cfg` with one edit applied.
std::string edited(const detr::DetectorConfig& cfg, const std::function<void(json&)>& edit) {
  json j = json::parse(detr::detector_config_to_json(cfg));
  edit(j);
  return j.dump();
}

coco::DetectionDataset tiny_dataset() {
  coco::Dataset d;
  d.images.push_back({1, "a.jpg", 10, 10});
  // Categories out of order and one without a name: labels follow sorted ids.
  d.categories = {{7, "cross", "shape"}, {1, "rectangle", "shape"}, {3, "", ""}};
  return coco::DetectionDataset("/nonexistent", d, {}, "<tiny>");
}

}  // namespace

TEST_CASE("detector configurations round-trip through JSON", "[detr][config]") {
  for (const auto& cfg :
       {detr::DetectorConfig::coco_r50(), detr::DetectorConfig::small_cpu(4), unusual()}) {
    const std::string text = detr::detector_config_to_json(cfg);
    INFO(text);
    check_same(detr::detector_config_from_json(text), cfg);
    // Stable: writing the read configuration gives the same text.
    CHECK(detr::detector_config_to_json(detr::detector_config_from_json(text)) == text);
  }
  // The layout is the documented one.
  json j = json::parse(detr::detector_config_to_json(detr::DetectorConfig::coco_r50()));
  CHECK(j["backbone"]["depth"] == "r50");
  CHECK(j["detr"]["num_queries"] == 300);
  CHECK(j["detr"]["backbone_channels"] == json::array({512, 1024, 2048}));
  CHECK(j["backbone"]["norm"] == "frozen_batch_norm");
  // Files written before the norm fields existed read as frozen BatchNorm.
  auto gn = unusual();
  const auto old = detr::detector_config_from_json(edited(gn, [](json& j) {
    j["backbone"].erase("norm");
    j["backbone"].erase("norm_groups");
    j["backbone"].erase("zero_init_residual");
  }));
  CHECK(old.backbone.norm == resnet::BackboneNorm::frozen_batch_norm);
  CHECK(old.backbone.norm_groups == 8);
  CHECK(!old.backbone.zero_init_residual);
  // ... and those before the two-stage option as single-stage.
  CHECK(!detr::detector_config_from_json(edited(gn, [](json& j) { j["detr"].erase("two_stage"); }))
             .detr.two_stage);
  test::check_throws_with(
      [&] {
        detr::detector_config_from_json(
            edited(gn, [](json& j) { j["backbone"]["norm"] = "layer_norm"; }));
      },
      {"backbone.norm", "layer_norm"});
}

TEST_CASE("reading a configuration is strict", "[detr][config]") {
  const auto cfg = detr::DetectorConfig::small_cpu(4);
  using detr::detector_config_from_json;
  test::check_throws_with([&] { detector_config_from_json("{not json"); },
                          {"[detector_config_from_json]", "not valid JSON"});
  test::check_throws_with([&] { detector_config_from_json("[1, 2]"); },
                          {"[detector_config_from_json]", "must be an object"});
  test::check_throws_with(
      [&] { detector_config_from_json(edited(cfg, [](json& j) { j["detr"].erase("dim_ff"); })); },
      {"[detector_config_from_json]", "missing field 'detr.dim_ff'"});
  test::check_throws_with(
      [&] { detector_config_from_json(edited(cfg, [](json& j) { j.erase("backbone"); })); },
      {"missing field 'config.backbone'"});
  test::check_throws_with(
      [&] { detector_config_from_json(edited(cfg, [](json& j) { j["detr"]["box_refine"] = 1; })); },
      {"unknown field 'detr.box_refine'"});
  test::check_throws_with(
      [&] { detector_config_from_json(edited(cfg, [](json& j) { j["extra"] = 1; })); },
      {"unknown field 'config.extra'"});
  test::check_throws_with(
      [&] {
        detector_config_from_json(edited(cfg, [](json& j) { j["detr"]["num_queries"] = 2.5; }));
      },
      {"'detr.num_queries' must be an integer", "2.5"});
  test::check_throws_with(
      [&] {
        detector_config_from_json(
            edited(cfg, [](json& j) { j["backbone"]["dilation_c5"] = "yes"; }));
      },
      {"'backbone.dilation_c5' must be true or false"});
  test::check_throws_with(
      [&] {
        detector_config_from_json(edited(cfg, [](json& j) { j["backbone"]["depth"] = "r101"; }));
      },
      {"'backbone.depth'", "r101"});
  test::check_throws_with(
      [&] {
        detector_config_from_json(edited(cfg, [](json& j) {
          j["detr"]["backbone_channels"] = {1, "x"};
        }));
      },
      {"'detr.backbone_channels' must be an array of integers"});
  // Well-formed but inconsistent: validate() runs.
  test::check_throws_with(
      [&] { detector_config_from_json(edited(cfg, [](json& j) { j["detr"]["nheads"] = 5; })); },
      {"[DeformableDetrConfig]"});
  test::check_throws_with(
      [&] {
        detector_config_from_json(edited(cfg, [](json& j) { j["backbone"]["width_divisor"] = 1; }));
      },
      {"[DetectorConfig]", "backbone_channels"});
}

TEST_CASE("checkpoint info records categories, names and validation sizes", "[detr][config]") {
  auto data = tiny_dataset();
  coco::TransformConfig val;
  val.val_size = 160;
  val.max_size = 266;
  auto model = detr::DetectorConfig::small_cpu(3);
  auto info = train::make_checkpoint_info(model, criteria::Criterion::hungarian, val, data);
  CHECK(info.category_ids == std::vector<int64_t>{1, 3, 7});
  CHECK(info.class_names == std::vector<std::string>{"rectangle", "", "cross"});

  const std::string text = train::checkpoint_info_to_json(info);
  json j = json::parse(text);
  CHECK(j["categories"] == json::array({1, 3, 7}));
  CHECK(j["val_transforms"]["val_size"] == 160);
  CHECK(j["criterion"] == "hungarian");

  auto back = train::checkpoint_info_from_json(text, "ckpt.safetensors");
  check_same(back.model, model);
  CHECK(back.criterion == criteria::Criterion::hungarian);
  // The criterion is read by its name; another name is an error naming the field.
  json other = j;
  other["criterion"] = "focal";
  mfx::test::check_runtime_error_with(
      [&] { train::checkpoint_info_from_json(other.dump(), "ckpt.safetensors"); },
      {"ckpt.safetensors", "criterion", "'hungarian', 'matchfree'", "'focal'"});
  CHECK(back.val_size == 160);
  CHECK(back.max_size == 266);
  CHECK(back.category_ids == info.category_ids);
  CHECK(back.class_names == info.class_names);
  auto t = back.val_transforms();
  CHECK_FALSE(t.train);
  CHECK(t.val_size == 160);
  CHECK(t.max_size == 266);

  // Names are optional.
  j.erase("class_names");
  CHECK(train::checkpoint_info_from_json(j.dump()).class_names ==
        std::vector<std::string>{"", "", ""});
}

TEST_CASE("checkpoint info errors name the checkpoint", "[detr][config]") {
  auto info = train::make_checkpoint_info(detr::DetectorConfig::small_cpu(3),
                                          criteria::Criterion::matchfree, {}, tiny_dataset());
  json good = json::parse(train::checkpoint_info_to_json(info));
  auto parse = [](const json& j) { train::checkpoint_info_from_json(j.dump(), "old.safetensors"); };
  CHECK_THROWS_WITH(train::checkpoint_info_from_json("{}", "old.safetensors"),
                    Contains("old.safetensors") && Contains("no model configuration"));
  CHECK_THROWS_WITH(train::checkpoint_info_from_json("[]", "x"), Contains("not a JSON object"));
  json j = good;
  j["categories"] = {1, 2};
  CHECK_THROWS_WITH(parse(j), Contains("2 categories for a model with num_classes 3"));
  j = good;
  j.erase("val_transforms");
  CHECK_THROWS_WITH(parse(j), Contains("'val_transforms' is missing"));
  j = good;
  j["val_transforms"]["max_size"] = 0;
  CHECK_THROWS_WITH(parse(j), Contains("val_transforms.max_size"));
  j = good;
  j["class_names"] = {"a"};
  CHECK_THROWS_WITH(parse(j), Contains("one name per category"));
  j = good;
  j["model"]["detr"].erase("d_model");
  CHECK_THROWS_WITH(parse(j), Contains("old.safetensors") && Contains("detr.d_model"));
}

TEST_CASE("checkpoint info records the match-free settings and variant", "[detr][config]") {
  using Cfg = criteria::MatchFreeConfig;
  auto info = train::make_checkpoint_info(detr::DetectorConfig::small_cpu(3),
                                          criteria::Criterion::matchfree, {}, tiny_dataset());
  // Without settings (a Hungarian run, older metadata): no "matchfree" entry.
  CHECK_FALSE(json::parse(train::checkpoint_info_to_json(info)).contains("matchfree"));
  CHECK_FALSE(train::checkpoint_info_from_json(train::checkpoint_info_to_json(info)).matchfree);
  Cfg m;
  m.rho = 0.75;
  m.norm = Cfg::Norm::Max;
  m.alpha_w = 0.5;
  m.cost.l1 = 3;
  m.probe_inputs_stop_gradient = false;
  m.probe_logits = Cfg::ProbeLogits::Cosine;
  m.cosine_scale = 12.5;
  m.attention = Cfg::Attention::Sinkhorn;
  m.sinkhorn_iters = 40;
  m.selection = Cfg::Selection::Greedy;
  info.matchfree = m;
  const std::string text = train::checkpoint_info_to_json(info);
  json j = json::parse(text);
  CHECK(j["matchfree"]["probe_logits"] == "cosine");
  CHECK(j["matchfree"]["attention"] == "sinkhorn");
  CHECK(j["matchfree"]["selection"] == "greedy");
  CHECK(j["matchfree"]["sinkhorn_iters"] == 40);
  CHECK(j["matchfree"]["norm"] == "max");
  auto back = train::checkpoint_info_from_json(text, "ckpt.safetensors");
  REQUIRE(back.matchfree);
  const Cfg& r = *back.matchfree;
  CHECK(r.rho == 0.75);
  CHECK(r.norm == Cfg::Norm::Max);
  CHECK(r.alpha_w == 0.5);
  CHECK(r.beta_q == 1.0);
  CHECK(r.cost.l1 == 3.0);
  CHECK_FALSE(r.probe_inputs_stop_gradient);
  CHECK(r.probe_logits == Cfg::ProbeLogits::Cosine);
  CHECK(r.cosine_scale == 12.5);
  CHECK(r.attention == Cfg::Attention::Sinkhorn);
  CHECK(r.sinkhorn_iters == 40);
  CHECK(r.selection == Cfg::Selection::Greedy);
  CHECK(criteria::matchfree_variant(r) == criteria::matchfree_variant(m));

  auto parse = [](const json& x) { train::checkpoint_info_from_json(x.dump(), "mf.safetensors"); };
  json bad = j;
  bad["matchfree"]["attention"] = "softmin";
  CHECK_THROWS_WITH(parse(bad), Contains("mf.safetensors") && Contains("matchfree.attention") &&
                                    Contains("softmin"));
  bad = j;
  bad["matchfree"].erase("cosine_scale");
  CHECK_THROWS_WITH(parse(bad), Contains("matchfree.cosine_scale"));
  bad = j;
  bad["matchfree"]["sinkhorn_iters"] = 0;
  CHECK_THROWS_WITH(parse(bad), Contains("sinkhorn_iters") && Contains("0"));
  bad = j;
  bad["matchfree"]["cost"].erase("gamma");
  CHECK_THROWS_WITH(parse(bad), Contains("matchfree.cost.gamma"));
}

TEST_CASE("load_trained_detector restores the model subtree and its info", "[detr][config]") {
  test::TempDir dir;
  array w = array(std::vector<float>{1, 2, 3}, {3}, float32);
  array p = array(std::vector<float>{9}, {1}, float32);
  Tree params{{"model", Tree{{"head", Tree(w)}}}, {"probe", Tree{{"w", Tree(p)}}}};
  Tree opt{{"count", Tree(p)}};
  auto info = train::make_checkpoint_info(detr::DetectorConfig::small_cpu(3),
                                          criteria::Criterion::matchfree, {}, tiny_dataset());
  const std::string path =
      train::save_checkpoint((dir.path / "run").string(),
                             {params, opt, array(), 4, 17, train::checkpoint_info_to_json(info)});
  auto d = train::load_trained_detector(path);
  CHECK(d.epoch == 4);
  CHECK(d.step == 17);
  CHECK(d.params.flatten().size() == 1);
  CHECK(test::values(d.params["head"].leaf()) == std::vector<double>{1, 2, 3});
  CHECK(d.info.category_ids == std::vector<int64_t>{1, 3, 7});

  // A checkpoint from before the configuration was stored.
  const std::string old =
      train::save_checkpoint((dir.path / "old").string(), {params, opt, array(), 1, 1, "{}"});
  CHECK_THROWS_WITH(train::load_trained_detector(old),
                    Contains(old) && Contains("no model configuration"));
  CHECK_THROWS_WITH(train::load_trained_detector((dir.path / "missing.safetensors").string()),
                    Contains("missing.safetensors") && Contains("no such file"));
}
