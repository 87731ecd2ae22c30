// The full detector: parameter tree and counts, forward shapes, the training
// losses and their gradients, reference checkpoint mapping, AdamW parameter
// groups and a few optimisation steps.
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mfx/detr/detector.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::detr;
using mfx::test::check_throws_with;
using mfx::test::values;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "mfx_test_detector_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

double max_abs(const array& a) {
  double m = 0;
  for (double v : values(a)) m = std::max(m, std::abs(v));
  return m;
}

// small_cpu with 3 classes: the preset the CPU training runs use.
DetectorConfig small() {
  return DetectorConfig::small_cpu(3);
}

// Two 64x64 images, the second padded on the right and bottom (valid 48x40),
// with 2 and 1 ground truths.
detr::Batch tiny_batch() {
  array images = random::normal(random::key(11), {2, 3, 64, 64});
  std::vector<float> m(2 * 64 * 64, 0.0f);
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 64; ++j)
      m[static_cast<size_t>(64 * 64 + 64 * i + j)] = i >= 48 || j >= 40 ? 1.0f : 0.0f;
  }
  array mask = astype(array(m, {2, 64, 64}), bool_);
  criteria::Targets t =
      criteria::pad_targets({array({0, 2}, {2}, int32), array({1}, {1}, int32)},
                            {array({0.3f, 0.4f, 0.2f, 0.3f, 0.7f, 0.6f, 0.3f, 0.2f}, {2, 4}),
                             array({0.5f, 0.5f, 0.4f, 0.5f}, {1, 4})},
                            8);
  return {images, mask, t};
}

}  // namespace

TEST_CASE("coco_r50 detector has the reference's parameters") {
  const DetectorConfig cfg = DetectorConfig::coco_r50();
  // Lazy init: only shapes are needed, nothing is computed.
  const Tree params = init_detector(random::key(0), cfg);
  const auto n = detector_count_parameters(params, cfg);
  CHECK(n.trainable == 39847265);
  // + frozen stem / layer1 convs (222,400) and BN affine (53,120) of ResNet-50.
  CHECK(n.total == 39847265 + 222400 + 53120);
  CHECK(n.buffers == 2 * 26560);
  CHECK(params.at("backbone.0.body.layer4.2.conv3.weight").shape() == Shape{2048, 512, 1, 1});
  CHECK(params.at("input_proj.3.0.weight").shape() == Shape{256, 2048, 3, 3});
  CHECK(params.at("query_embed.weight").shape() == Shape{300, 512});
  CHECK(params.at("class_embed.weight").shape() == Shape{91, 256});
  CHECK(params.contains("transformer.decoder.layers.5.cross_attn.sampling_offsets.weight"));
  CHECK_FALSE(detector_is_trainable("backbone.0.body.layer1.0.conv1.weight", cfg));
  CHECK_FALSE(detector_is_trainable("backbone.0.body.layer3.1.bn2.weight", cfg));
  CHECK(detector_is_trainable("backbone.0.body.layer3.1.conv2.weight", cfg));
  CHECK(detector_is_trainable("transformer.level_embed", cfg));
  const Tree mask = detector_trainable_mask(params, cfg);
  CHECK(mask.same_structure(params));
  CHECK_FALSE(mask.at("backbone.0.body.conv1.weight").item<bool>());
  CHECK(mask.at("transformer.reference_points.weight").item<bool>());
}

TEST_CASE("detector config presets and validation") {
  const DetectorConfig s = small();
  CHECK(s.detr.num_classes == 3);
  CHECK(s.detr.backbone_channels == std::vector<int64_t>{64, 128, 256});
  DetectorConfig bad = s;
  bad.detr.backbone_channels = {128, 256, 512};
  check_throws_with([&] { bad.validate(); }, {"[DetectorConfig]", "64, 128, 256"});
  check_throws_with([&] { init_detector(random::key(0), s, int32); }, {"[init_detector]", "int32"});
}

TEST_CASE("detector forward on small_cpu at 64x64") {
  const DetectorConfig cfg = small();
  const Tree params = init_detector(random::key(1), cfg);
  const detr::Batch batch = tiny_batch();
  const auto out = detector_forward(params, batch.images, batch.mask, cfg);
  REQUIRE(out.logits.size() == 2);
  REQUIRE(out.boxes.size() == 2);
  REQUIRE(out.hidden.size() == 2);
  for (int l = 0; l < 2; ++l) {
    CHECK(out.logits[l].shape() == Shape{2, 100, 3});
    CHECK(out.boxes[l].shape() == Shape{2, 100, 4});
    CHECK(out.hidden[l].shape() == Shape{2, 100, 64});
    for (double v : values(out.boxes[l])) {
      CHECK(v > 0.0);
      CHECK(v < 1.0);
    }
    CHECK(std::isfinite(max_abs(out.logits[l])));
  }
  // Dropout needs a key; bad inputs name the shapes.
  check_throws_with(
      [&] { detector_forward(params, batch.images, batch.mask, cfg, /*train=*/true); },
      {"deformable_detr_forward"});
  check_throws_with(
      [&] { detector_forward(params, batch.images, slice_axis(batch.mask, 1, 0, 32), cfg); },
      {"[detector_forward]", "(2,3,64,64)", "(2,32,64)"});
  check_throws_with([&] { detector_forward(Tree{}, batch.images, batch.mask, cfg); },
                    {"[detector]", "backbone.0.body"});
}

TEST_CASE("detector losses: gradients reach model and probe, not frozen leaves") {
  detr::LossConfig lc;
  lc.model = small();
  lc.train = true;
  const detr::StepInputs in{.dropout_key = random::key(5)};
  const Tree params{{"model", init_detector(random::key(2), lc.model)},
                    {"probe", criteria::init_probe(random::key(3), 3, 64)}};
  const detr::Batch batch = tiny_batch();

  auto [value, g] = value_and_grad(detr::matchfree_step_loss_and_components)(params, batch, lc, in);
  const auto& [loss, comps] = value;
  CHECK(g.same_structure(params));
  CHECK(std::isfinite(loss.item<float>()));
  CHECK(loss.item<float>() > 0.0f);
  CHECK(comps.at("loss").item<float>() == loss.item<float>());
  CHECK(comps.contains("L_w_1"));
  for (const char* p :
       {"model.class_embed.weight", "model.bbox_embed.layers.2.weight",
        "model.transformer.decoder.layers.0.linear1.weight",
        "model.transformer.encoder.layers.0.self_attn.value_proj.weight",
        "model.input_proj.0.0.weight", "model.backbone.0.body.layer2.0.conv1.weight",
        "model.backbone.0.body.layer4.1.conv2.weight", "probe.w_q"}) {
    INFO(p);
    CHECK(max_abs(g.at(p)) > 0.0);
  }
  for (const char* p :
       {"model.backbone.0.body.conv1.weight", "model.backbone.0.body.bn1.weight",
        "model.backbone.0.body.layer1.0.conv1.weight", "model.backbone.0.body.layer2.0.bn1.bias",
        "model.backbone.0.body.layer3.0.downsample.1.weight",
        "model.backbone.0.body.layer4.0.bn2.running_var"}) {
    INFO(p);
    CHECK(max_abs(g.at(p)) == 0.0);
  }
  // grad of the plain loss equals the aux variant's gradient.
  const Tree g2 = grad(detr::matchfree_step_loss)(params, batch, lc, in);
  CHECK(array_equal(g2.at("probe.w_k"), g.at("probe.w_k")));
  // The plain names use default StepInputs: dropout key random::key(0).
  CHECK(
      detr::matchfree_loss(params, batch, lc).item<float>() ==
      detr::matchfree_step_loss(params, batch, lc, {.dropout_key = random::key(0)}).item<float>());
  CHECK(detr::matchfree_loss(params, batch, lc).item<float>() != loss.item<float>());

  // Hungarian: the same model tree, nested or not; eval mode is deterministic.
  lc.train = false;
  const array h1 = detr::hungarian_loss(params, batch, lc);
  const array h2 = detr::hungarian_loss(params["model"], batch, lc);
  CHECK(h1.item<float>() == h2.item<float>());
  auto [hv, hg] = value_and_grad(detr::hungarian_loss_and_components)(params["model"], batch, lc);
  CHECK(hv.second.contains("loss_giou_1"));
  CHECK(max_abs(hg.at("class_embed.bias")) > 0.0);
  CHECK(max_abs(hg.at("backbone.0.body.layer4.0.conv1.weight")) > 0.0);
  CHECK(max_abs(hg.at("backbone.0.body.layer1.1.conv2.weight")) == 0.0);

  check_throws_with([&] { detr::matchfree_loss(params["model"], batch, lc); },
                    {"[matchfree_loss]", "\"model\""});
}

TEST_CASE("two-stage detector losses add the proposals' loss") {
  detr::LossConfig lc;
  lc.model = small();
  lc.model.detr.two_stage = true;
  lc.model.detr.num_queries = 20;  // of 84 encoder tokens at 64x64
  lc.train = false;                // no dropout, so the outputs below are the loss's
  const detr::Batch batch = tiny_batch();
  const Tree model = init_detector(random::key(4), lc.model);
  const Tree params{{"model", model}, {"probe", criteria::init_probe(random::key(3), 3, 64)}};
  const auto out = detector_forward(model, batch.images, batch.mask, lc.model);
  REQUIRE(out.encoder.has_value());
  const array proposals = criteria::encoder_proposal_loss(*out.encoder, batch.targets).first;
  auto [h, hc] = detr::hungarian_loss_and_components(model, batch, lc);
  CHECK(hc.contains("loss_enc_giou"));
  CHECK(h.item<double>() ==
        Approx((criteria::hungarian_criterion(out, batch.targets, lc.hungarian).loss + proposals)
                   .item<double>())
            .epsilon(1e-6));
  auto [m, mc] = detr::matchfree_loss_and_components(params, batch, lc);
  CHECK(mc.contains("loss_enc_ce"));
  CHECK(m.item<double>() ==
        Approx((criteria::matchfree_criterion(params["probe"], out, batch.targets, lc.matchfree)
                    .loss +
                proposals)
                   .item<double>())
            .epsilon(1e-6));
  // The plain model has no proposals and no such terms.
  lc.model.detr.two_stage = false;
  CHECK(!detr::hungarian_loss_and_components(init_detector(random::key(4), lc.model), batch, lc)
             .second.contains("loss_enc_ce"));
  TempDir dir;
  lc.model.detr.two_stage = true;
  check_throws_with([&] { save_reference_checkpoint(dir.file("r.pth"), model, lc.model); },
                    {"[save_reference_checkpoint]", "two-stage"});
}

TEST_CASE("reference checkpoints round trip and report mismatches") {
  const DetectorConfig cfg = small();
  const Tree params = init_detector(random::key(4), cfg);
  eval(params);
  TempDir dir;
  const std::string file = dir.file("ref.safetensors");
  save_reference_checkpoint(file, params, cfg);

  auto tensors = load_safetensors(file);
  // Heads repeated per decoder layer, backbone under its prefix.
  CHECK(tensors.count("class_embed.0.weight"));
  CHECK(tensors.count("class_embed.1.weight"));
  CHECK(tensors.count("bbox_embed.1.layers.2.bias"));
  CHECK_FALSE(tensors.count("class_embed.weight"));
  CHECK(tensors.count("backbone.0.body.layer3.1.bn2.running_mean"));
  CHECK(tensors.size() == params.leaves().size() + 8);  // 8 head leaves, 2 copies

  const Tree loaded = load_reference_checkpoint(file, cfg);
  REQUIRE(loaded.same_structure(params));
  for (const auto& [path, leaf] : params.flatten()) {
    INFO(path);
    CHECK(array_equal(loaded.at(path), leaf));
  }

  // num_batches_tracked is ignored; the un-indexed head names are accepted.
  auto variant = tensors;
  variant.emplace("backbone.0.body.bn1.num_batches_tracked", array(int64_t{7}));
  variant.erase("class_embed.1.weight");
  variant.erase("class_embed.0.weight");
  variant.emplace("class_embed.weight", params.at("class_embed.weight"));
  save_safetensors(dir.file("variant.safetensors"), variant);
  CHECK(array_equal(
      load_reference_checkpoint(dir.file("variant.safetensors"), cfg).at("class_embed.weight"),
      params.at("class_embed.weight")));

  auto broken = tensors;
  broken.erase("transformer.level_embed");
  broken.emplace("transformer.enc_output.weight", zeros({4, 4}));
  broken["query_embed.weight"] = zeros({10, 128});
  broken["class_embed.2.weight"] = zeros({3, 64});  // a third head for 2 layers
  broken.erase("bbox_embed.1.layers.0.bias");
  const std::string bad = dir.file("broken.safetensors");
  save_safetensors(bad, broken);
  check_throws_with(
      [&] { load_reference_checkpoint(bad, cfg); },
      {"[load_reference_checkpoint]", "broken.safetensors",
       "missing 2: transformer.level_embed, bbox_embed.1.layers.0.bias",
       "unexpected 2: class_embed.2.weight, transformer.enc_output.weight",
       "mis-shaped 1: query_embed.weight (float32 (10,128), expected float32 (100,128))"});

  // Per-layer heads that differ (box refinement) are refused.
  auto refined = tensors;
  refined["bbox_embed.1.layers.2.bias"] = zeros({4});
  save_safetensors(dir.file("refined.safetensors"), refined);
  check_throws_with([&] { load_reference_checkpoint(dir.file("refined.safetensors"), cfg); },
                    {"[load_reference_checkpoint]",
                     "bbox_embed.1.layers.2.bias vs bbox_embed.0.layers.2.bias", "box refinement"});

  // The inverse rejects a tree of another configuration.
  Tree other = init_detector(random::key(4), DetectorConfig::small_cpu(5));
  check_throws_with(
      [&] { save_reference_checkpoint(dir.file("x.safetensors"), other, cfg); },
      {"[save_reference_checkpoint]", "class_embed.weight (float32 (5,64), expected (3,64))"});
}

TEST_CASE("AdamW parameter groups of the reference") {
  const DetectorConfig cfg = DetectorConfig::coco_r50();
  const optim::AdamWConfig oc = detector_adamw_config(cfg, "model.");
  CHECK(oc.lr(0) == 2e-4);
  CHECK(oc.weight_decay == 1e-4);
  const std::vector<std::string> paths{
      "model.backbone.0.body.bn1.weight",                                      // frozen
      "model.backbone.0.body.conv1.weight",                                    // frozen
      "model.backbone.0.body.layer1.2.conv3.weight",                           // frozen
      "model.backbone.0.body.layer3.4.bn2.running_mean",                       // frozen
      "model.backbone.0.body.layer2.0.conv1.weight",                           // 2e-5
      "model.transformer.encoder.layers.0.self_attn.sampling_offsets.weight",  // 2e-5
      "model.transformer.decoder.layers.5.cross_attn.sampling_offsets.bias",   // 2e-5
      "model.transformer.reference_points.weight",                             // 2e-5
      "model.transformer.decoder.layers.0.linear1.weight",                     // 2e-4
      "model.class_embed.bias",                                                // 2e-4
      "probe.w_q"};                                                            // 2e-4
  const std::vector<double> lrs{0, 0, 0, 0, 2e-5, 2e-5, 2e-5, 2e-5, 2e-4, 2e-4, 2e-4};
  std::vector<std::pair<std::string, array>> items, grads;
  for (const auto& p : paths) {
    items.emplace_back(p, ones({2}));
    grads.emplace_back(p, ones({2}));
  }
  const Tree params = Tree::from_flat(items);
  const optim::AdamW opt(oc);
  auto [next, state] = opt.update(params, Tree::from_flat(grads), opt.init(params));
  for (size_t i = 0; i < paths.size(); ++i) {
    INFO(paths[i]);
    // First AdamW step with g = 1 from p = 1: p (1 - lr wd) - lr / (1 + eps);
    // frozen leaves have lr 0 and no decay, so they stay exactly 1.
    const double lr = lrs[i];
    const double expected = lr == 0 ? 1.0 : 1.0 * (1 - lr * 1e-4) - lr / (1 + 1e-8);
    const auto v = values(next.at(paths[i]));
    CHECK(v[0] == Approx(expected).epsilon(1e-7));
    if (lr == 0) CHECK(v[0] == 1.0);
  }
}

TEST_CASE("a few AdamW steps on one tiny batch reduce the match-free loss") {
  detr::LossConfig lc;
  lc.model = small();
  lc.train = false;
  Tree params{{"model", init_detector(random::key(6), lc.model)},
              {"probe", criteria::init_probe(random::key(7), 3, 64)}};
  eval(params);
  const Tree frozen_before = params;
  const detr::Batch batch = tiny_batch();
  const optim::AdamW opt(detector_adamw_config(lc.model, "model.", /*lr=*/1e-3));
  Tree state = opt.init(params);
  std::vector<float> losses;
  for (int step = 0; step < 4; ++step) {
    auto [loss, g] = value_and_grad(detr::matchfree_loss)(params, batch, lc);
    losses.push_back(loss.item<float>());
    std::tie(params, state) = opt.update(params, g, state);
    eval(params);
  }
  losses.push_back(detr::matchfree_loss(params, batch, lc).item<float>());
  INFO("losses " << losses[0] << " " << losses[1] << " " << losses[2] << " " << losses[3] << " "
                 << losses[4]);
  CHECK(losses.back() < losses.front());
  // Frozen backbone leaves are untouched (lr 0, no weight decay).
  for (const char* p : {"model.backbone.0.body.conv1.weight", "model.backbone.0.body.bn1.bias",
                        "model.backbone.0.body.layer1.0.conv2.weight"}) {
    INFO(p);
    CHECK(array_equal(params.at(p), frozen_before.at(p)));
  }
  CHECK_FALSE(array_equal(params.at("model.backbone.0.body.layer2.0.conv1.weight"),
                          frozen_before.at("model.backbone.0.body.layer2.0.conv1.weight")));
}
