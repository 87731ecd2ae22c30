// ResNet backbone: layout and parameter counts against torchvision, the
// frozen BatchNorm, a numpy reference forward of width-reduced networks
// (tests/fixtures/gen_resnet_fixtures.py), gradients of frozen parameters and
// loading PyTorch state dicts.
#include <unistd.h>

#include <filesystem>
#include <map>

#include "mfx/io.h"
#include "mfx/nn.h"
#include "mfx/random.h"
#include "mfx/resnet/resnet.h"
#include "mfx/transforms.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::resnet;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::values;

namespace {

const std::string kFixtures = mfx::test::data_path("resnet_fixtures.safetensors");

ResNetConfig config(ResNetDepth depth, int divisor = 1) {
  ResNetConfig cfg;
  cfg.depth = depth;
  cfg.width_divisor = divisor;
  return cfg;
}

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mfx_test_resnet_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Compares with a tolerance scaled by the reference's magnitude (float32
// against a float64 reference through ~20 convolutions).
void check_matches(const array& got, const array& expected) {
  auto e = values(expected);
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  check_close(got, e, expected.shape(), 1e-4, 1e-4 * scale);
}

double max_abs(const array& a) {
  double m = 0;
  for (double v : values(a)) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace

TEST_CASE("resnet parameter counts equal torchvision's") {
  // torchvision sum(p.numel() for p in model.parameters()) minus fc
  // (in_features * 1000 + 1000): resnet18 11,689,512 - 513,000,
  // resnet34 21,797,672 - 513,000, resnet50 25,557,032 - 2,049,000.
  // Trainable by default (DETR): conv weights of layer2..4 only.
  struct Case {
    ResNetDepth depth;
    int64_t total, trainable, tensors;
  };
  for (auto c : {Case{ResNetDepth::R18, 11176512, 11010048, 100},
                 Case{ResNetDepth::R34, 21284672, 21037056, 180},
                 Case{ResNetDepth::R50, 23508032, 23232512, 265}}) {
    auto cfg = config(c.depth);
    Tree params = init_resnet(random::key(0), cfg);  // lazy: nothing is evaluated
    // torchvision's state_dict has 5 entries per BN (num_batches_tracked):
    // 122 / 218 / 320 without fc; here 4 per BN.
    CHECK(params.leaves().size() == static_cast<size_t>(c.tensors));
    auto n = resnet_count_params(params, cfg);
    CHECK(n.total == c.total);
    CHECK(n.trainable == c.trainable);
    cfg.train_stem_and_layer1 = true;
    auto all = resnet_count_params(params, cfg);
    CHECK(all.total == c.total);
    CHECK(all.trainable > c.trainable);
    CHECK(all.buffers == n.buffers);
  }
  // R50 with stem and layer1: every conv weight, i.e. total minus the BN
  // affine parameters (2 * 26,560 BN channels).
  auto cfg = config(ResNetDepth::R50);
  cfg.train_stem_and_layer1 = true;
  auto n = resnet_count_params(init_resnet(random::key(0), cfg), cfg);
  CHECK(n.trainable == 23508032 - 53120);
  CHECK(n.buffers == 53120);
}

TEST_CASE("resnet names follow the torchvision state_dict") {
  auto specs = resnet_param_specs(config(ResNetDepth::R50));
  std::map<std::string, Shape> s;
  for (auto& p : specs) s[p.name] = p.shape;
  CHECK(s.at("conv1.weight") == Shape{64, 3, 7, 7});
  CHECK(s.at("bn1.running_var") == Shape{64});
  CHECK(s.at("layer1.0.conv1.weight") == Shape{64, 64, 1, 1});
  CHECK(s.at("layer1.0.downsample.0.weight") == Shape{256, 64, 1, 1});
  CHECK(s.at("layer2.0.conv2.weight") == Shape{128, 128, 3, 3});
  CHECK(s.at("layer2.0.downsample.1.bias") == Shape{512});
  CHECK(s.at("layer4.2.conv3.weight") == Shape{2048, 512, 1, 1});
  CHECK(s.count("layer2.1.downsample.0.weight") == 0);
  CHECK(s.count("fc.weight") == 0);

  auto r18 = resnet_param_specs(config(ResNetDepth::R18));
  std::map<std::string, Shape> t;
  for (auto& p : r18) t[p.name] = p.shape;
  CHECK(t.count("layer1.0.downsample.0.weight") == 0);  // 64 -> 64, stride 1
  CHECK(t.at("layer3.0.downsample.0.weight") == Shape{256, 128, 1, 1});
  CHECK(t.at("layer4.1.conv2.weight") == Shape{512, 512, 3, 3});

  // A Tree of the init has list nodes for the block indices.
  Tree params = init_resnet(random::key(1), config(ResNetDepth::R18));
  CHECK(params["layer2"].is_list());
  CHECK(params["layer2"].size() == 2);
  CHECK(params.at("layer2.0.downsample.0.weight").shape() == Shape{128, 64, 1, 1});
}

TEST_CASE("resnet config errors") {
  auto bad = config(ResNetDepth::R18, 3);
  check_throws_with([&] { resnet_param_specs(bad); }, {"[resnet]", "width_divisor", "3"});
  check_throws_with([&] { init_resnet(random::key(0), config(ResNetDepth::R50, 0)); },
                    {"[resnet]", "width_divisor"});
  auto dil = config(ResNetDepth::R34);
  dil.dilation_c5 = true;
  check_throws_with([&] { resnet_feature_channels(dil); }, {"[resnet]", "dilation_c5", "R50"});
}

TEST_CASE("resnet feature shapes for a 64x96 input") {
  array x = zeros({2, 3, 64, 96});
  struct Case {
    ResNetDepth depth;
    int64_t c3;
  };
  for (auto c :
       {Case{ResNetDepth::R18, 128}, Case{ResNetDepth::R34, 128}, Case{ResNetDepth::R50, 512}}) {
    auto cfg = config(c.depth);
    auto f = resnet_forward(init_resnet(random::key(0), cfg), x, cfg);  // shapes only
    CHECK(f.c3.shape() == Shape{2, c.c3, 8, 12});
    CHECK(f.c4.shape() == Shape{2, 2 * c.c3, 4, 6});
    CHECK(f.c5.shape() == Shape{2, 4 * c.c3, 2, 3});
    CHECK(resnet_feature_channels(cfg) == std::vector<int64_t>{c.c3, 2 * c.c3, 4 * c.c3});
  }
  auto cfg = config(ResNetDepth::R50);
  cfg.dilation_c5 = true;
  auto f = resnet_forward(init_resnet(random::key(0), cfg), x, cfg);
  CHECK(f.c5.shape() == Shape{2, 2048, 4, 6});  // stride 16

  // Odd sizes round like PyTorch: 65x97 -> conv1 33x49 -> pool 17x25 -> 9x13, 5x7, 3x4.
  auto small = config(ResNetDepth::R18, 16);
  auto g = resnet_forward(init_resnet(random::key(0), small), zeros({1, 3, 65, 97}), small);
  CHECK(g.c3.shape() == Shape{1, 8, 9, 13});
  CHECK(g.c5.shape() == Shape{1, 32, 3, 4});
  eval({g.c3, g.c4, g.c5});
}

TEST_CASE("frozen batch norm matches the hand computation") {
  array x({1.f, 2.f, 3.f, 4.f}, {1, 2, 1, 2});
  array w({2.f, 0.5f}, {2});
  array b({1.f, -1.f}, {2});
  array mean({1.f, 2.f}, {2});
  array var({3.f, 0.25f}, {2});
  // (x - m) / sqrt(v + 1e-5) * w + b per channel:
  // channel 0: (0, 1) * 2 / sqrt(3.00001) + 1; channel 1: (1, 2) - 2 scaled by
  // 0.5 / sqrt(0.25001), minus 1.
  check_close(frozen_batch_norm(x, w, b, mean, var), {1.0, 2.15469861, -1.99994e-05, 0.999960001},
              {1, 2, 1, 2}, 1e-6, 1e-6);
  // Non-contiguous input: a transposed view of [1, 2, 2, 1].
  array xt = transpose(reshape(x, {1, 2, 2, 1}), {0, 1, 3, 2});
  check_close(frozen_batch_norm(xt, w, b, mean, var), {1.0, 2.15469861, -1.99994e-05, 0.999960001},
              {1, 2, 1, 2}, 1e-6, 1e-6);
  check_throws_with(
      [&] {
        frozen_batch_norm(reshape(x, {2, 2}), w, b, mean, var);
      },
      {"[frozen_batch_norm]", "(2,2)"});
  check_throws_with([&] { frozen_batch_norm(x, zeros({3}), b, mean, var); },
                    {"[frozen_batch_norm]", "got (3)", "(1,2,1,2)"});
}

TEST_CASE("resnet init follows torchvision") {
  auto cfg = config(ResNetDepth::R50);
  Tree p = init_resnet(random::key(3), cfg);
  // kaiming_normal_(fan_out): std sqrt(2 / (256 * 9)) for layer3's 3x3 conv.
  array w = p.at("layer3.0.conv2.weight");
  double var = values(mean(square(w)))[0];
  CHECK(std::abs(values(mean(w))[0]) < 1e-3);
  CHECK(std::abs(std::sqrt(var) / std::sqrt(2.0 / 2304) - 1) < 0.01);
  check_close(p.at("layer2.0.bn1.weight"), std::vector<double>(128, 1.0), {128});
  check_close(p.at("layer2.0.bn1.bias"), std::vector<double>(128, 0.0), {128});
  check_close(p.at("bn1.running_mean"), std::vector<double>(64, 0.0), {64});
  check_close(p.at("bn1.running_var"), std::vector<double>(64, 1.0), {64});
  // Same key, same numbers; different convs differ.
  Tree q = init_resnet(random::key(3), cfg);
  CHECK(values(q.at("conv1.weight")) == values(p.at("conv1.weight")));
  CHECK(values(p.at("layer1.0.conv2.weight")) != values(p.at("layer1.1.conv2.weight")));
}

TEST_CASE("resnet forward matches the numpy reference (width / 16)") {
  auto fx = load_safetensors(kFixtures);
  array x = fx.at("input");

  auto r18 = config(ResNetDepth::R18, 16);
  Tree p18 = load_torch_weights(kFixtures, r18, "r18.");
  auto f = resnet_forward(p18, x, r18);
  check_matches(f.c3, fx.at("r18_out.c3"));
  check_matches(f.c4, fx.at("r18_out.c4"));
  check_matches(f.c5, fx.at("r18_out.c5"));

  // R50 from a Deformable DETR style checkpoint prefix.
  auto r50 = config(ResNetDepth::R50, 16);
  Tree p50 = load_torch_weights(kFixtures, r50, "backbone.0.body.");
  auto g = resnet_forward(p50, x, r50);
  check_matches(g.c3, fx.at("r50_out.c3"));
  check_matches(g.c4, fx.at("r50_out.c4"));
  check_matches(g.c5, fx.at("r50_out.c5"));

  r50.dilation_c5 = true;
  auto d = resnet_forward(p50, x, r50);
  check_matches(d.c4, fx.at("r50_dilated_out.c4"));
  check_matches(d.c5, fx.at("r50_dilated_out.c5"));

  // A sliced, non-contiguous input batch.
  array wide = concatenate({x, zeros({2, 3, 32, 8})}, 3);
  array view = slice(wide, {0, 0, 0, 0}, {2, 3, 32, 40});
  check_matches(resnet_forward(p18, view, r18).c5, fx.at("r18_out.c5"));
}

TEST_CASE("resnet gradients reach only trainable parameters") {
  auto cfg = config(ResNetDepth::R18, 16);
  Tree params = init_resnet(random::key(5), cfg);
  array x = random::normal(random::key(6), {1, 3, 32, 32});
  for (bool train_stem : {false, true}) {
    cfg.train_stem_and_layer1 = train_stem;
    auto loss = [&](const Tree& p) { return sum(resnet_forward(p, x, cfg).c5); };
    Tree g = grad(loss)(params);
    Tree mask = resnet_trainable_mask(params, cfg);
    REQUIRE(g.same_structure(params));
    int trainable = 0;
    for (auto& [path, leaf] : g.flatten()) {
      INFO(path << " train_stem_and_layer1=" << train_stem);
      bool expect = resnet_is_trainable(path, cfg);
      CHECK(values(mask.at(path)) == std::vector<double>{expect ? 1.0 : 0.0});
      if (expect) {
        ++trainable;
        CHECK(max_abs(leaf) > 0);
      } else {
        CHECK(max_abs(leaf) == 0);
      }
    }
    // 20 conv weights (1 stem + 16 block convs + 3 downsamples); 5 of them
    // (conv1 and layer1's four) are frozen by default.
    CHECK(trainable == (train_stem ? 20 : 15));
  }
  CHECK_FALSE(resnet_is_trainable("layer2.0.downsample.1.weight", cfg));
  CHECK(resnet_is_trainable("layer2.0.downsample.0.weight", cfg));
  CHECK_FALSE(resnet_is_trainable("layer3.1.bn2.bias", cfg));
}

TEST_CASE("resnet_forward rejects bad inputs and parameter trees") {
  auto cfg = config(ResNetDepth::R18, 16);
  Tree params = init_resnet(random::key(0), cfg);
  check_throws_with(
      [&] {
        resnet_forward(params, zeros({1, 4, 32, 32}), cfg);
      },
      {"[resnet_forward]", "(1,4,32,32)"});
  check_throws_with(
      [&] {
        resnet_forward(params, zeros({3, 32, 32}), cfg);
      },
      {"[resnet_forward]", "(3,32,32)"});
  check_throws_with(
      [&] {
        resnet_forward(params, zeros({1, 3, 32, 32}, int32), cfg);
      },
      {"[resnet_forward]", "int32"});
  Tree wrong = params;
  wrong["layer3"][0]["conv1"]["weight"] = Tree(zeros({16, 8, 1, 1}));
  check_throws_with(
      [&] {
        resnet_forward(wrong, zeros({1, 3, 32, 32}), cfg);
      },
      {"[resnet_forward]", "layer3.0.conv1.weight", "(16,8,1,1)", "(16,8,3,3)"});
  // Parameters of the full-width network for a width-reduced config.
  check_throws_with(
      [&] {
        resnet_forward(params, zeros({1, 3, 32, 32}), config(ResNetDepth::R18));
      },
      {"[resnet_forward]", "conv1.weight", "(64,3,7,7)"});
  Tree missing = params;
  missing["layer4"][1].dict().erase("bn2");
  check_throws_with(
      [&] {
        resnet_forward(missing, zeros({1, 3, 32, 32}), cfg);
      },
      {"[resnet_forward]", "layer4.1.bn2.weight", "missing"});
}

TEST_CASE("load_torch_weights reports missing, unexpected and mis-shaped tensors") {
  TempDir dir;
  auto cfg = config(ResNetDepth::R18, 16);
  std::map<std::string, array> sd;
  for (auto& [path, leaf] : init_resnet(random::key(2), cfg).flatten()) sd.emplace(path, leaf);
  sd.emplace("fc.weight", zeros({1000, 32}));
  sd.emplace("fc.bias", zeros({1000}));
  sd.emplace("layer1.0.bn1.num_batches_tracked", array(int64_t{3}));

  // A complete torchvision-style file loads (fc and counters skipped), and
  // float64 tensors become float32.
  auto good = sd;
  good.at("conv1.weight") = astype(sd.at("conv1.weight"), float64);
  save_safetensors(dir.file("good.safetensors"), good);
  Tree loaded = load_torch_weights(dir.file("good.safetensors"), cfg);
  CHECK(loaded.leaves().size() == 100);  // 20 convs + 20 BNs x 4
  CHECK(loaded.at("conv1.weight").dtype() == float32);
  CHECK(values(loaded.at("layer2.1.conv2.weight")) == values(sd.at("layer2.1.conv2.weight")));

  auto bad = sd;
  bad.erase("layer2.0.conv1.weight");
  bad.erase("bn1.bias");
  bad.emplace("layer2.0.conv9.weight", zeros({1}));
  bad.at("layer3.1.conv2.weight") = zeros({16, 16, 1, 1});
  bad.at("layer4.0.bn1.running_var") = zeros({32}, int32);
  const std::string file = dir.file("bad.safetensors");
  save_safetensors(file, bad);
  check_throws_with(
      [&] { load_torch_weights(file, cfg); },
      {"[load_torch_weights]", file, "missing 2", "layer2.0.conv1.weight", "bn1.bias",
       "unexpected 1", "layer2.0.conv9.weight", "mis-shaped 2", "layer3.1.conv2.weight",
       "(16,16,1,1)", "(16,16,3,3)", "layer4.0.bn1.running_var (int32 (32)"});

  // With a prefix the reported names are the file's names; other keys are
  // ignored.
  std::map<std::string, array> prefixed;
  for (auto& [k, v] : bad) prefixed.emplace("backbone.0.body." + k, v);
  prefixed.emplace("transformer.level_embed", zeros({4, 8}));
  save_safetensors(file, prefixed);
  check_throws_with(
      [&] { load_torch_weights(file, cfg, "backbone.0.body."); },
      {"backbone.0.body.layer2.0.conv1.weight", "backbone.0.body.layer2.0.conv9.weight"});
  // A wrong prefix: everything missing, with a hint.
  check_throws_with(
      [&] { load_torch_weights(file, cfg, "backbone.1."); },
      {"missing 100", "... (80 more)", "no tensor names start with the prefix 'backbone.1.'"});
  // The wrong depth: R34 misses layers, R18's tensors are all present.
  save_safetensors(file, sd);
  check_throws_with([&] { load_torch_weights(file, config(ResNetDepth::R34, 16)); },
                    {"missing 80", "layer1.2.conv1.weight"});
  CHECK_THROWS_AS(load_torch_weights(dir.file("absent.safetensors"), cfg), std::runtime_error);
}

TEST_CASE("group-norm backbone: zero-initialised branches, trainable affine, hand composition") {
  auto cfg = config(ResNetDepth::R18, 16);  // stem 4, layer1 4, layer2 8 channels
  cfg.norm = BackboneNorm::group_norm;
  cfg.norm_groups = 2;
  // By default every norm weight starts at 1 (torchvision's init).
  Tree params = init_resnet(random::key(7), cfg);
  check_close(params.at("layer1.0.bn2.weight"), std::vector<double>(4, 1.0), {4});
  check_close(params.at("layer3.1.bn2.weight"), std::vector<double>(16, 1.0), {16});
  // zero_init_residual: every residual branch starts at zero, its last
  // norm's weight being 0; the others stay 1. Frozen BN refuses it.
  cfg.zero_init_residual = true;
  params = init_resnet(random::key(7), cfg);
  check_close(params.at("layer1.0.bn2.weight"), std::vector<double>(4, 0.0), {4});
  check_close(params.at("layer3.1.bn2.weight"), std::vector<double>(16, 0.0), {16});
  check_close(params.at("layer2.0.bn1.weight"), std::vector<double>(8, 1.0), {8});
  check_close(params.at("layer2.0.downsample.1.weight"), std::vector<double>(8, 1.0), {8});
  auto frozen = cfg;
  frozen.norm = BackboneNorm::frozen_batch_norm;
  check_throws_with([&] { init_resnet(random::key(7), frozen); },
                    {"[resnet]", "zero_init_residual", "group_norm"});

  // Random affines, so the branches count, then layer2's output (C3) by hand.
  int index = 0;
  params = params.map_with_path([&](const std::string& path, const array& leaf) {
    const bool affine = path.find("running_") == std::string::npos && leaf.ndim() == 1;
    return affine ? random::normal(random::key(100 + index++), leaf.shape()) : leaf;
  });
  array x = random::normal(random::key(8), {2, 3, 32, 32});
  auto gn = [&](const array& h, const std::string& name) {
    return group_norm(h, 2, params.at(name + ".weight"), params.at(name + ".bias"));
  };
  auto conv = [&](const array& h, const std::string& name, int64_t stride, int64_t pad) {
    return conv2d(h, params.at(name + ".weight"), {stride, stride}, {pad, pad});
  };
  auto basic = [&](const array& h, const std::string& p, int64_t stride, bool downsample) {
    array y = relu(gn(conv(h, p + ".conv1", stride, 1), p + ".bn1"));
    y = gn(conv(y, p + ".conv2", 1, 1), p + ".bn2");
    const array id = downsample ? gn(conv(h, p + ".downsample.0", stride, 0), p + ".downsample.1")
                                : h;
    return relu(y + id);
  };
  array h = max_pool2d(relu(gn(conv(x, "conv1", 2, 3), "bn1")), {3, 3}, Pair{2, 2}, {1, 1});
  h = basic(basic(h, "layer1.0", 1, false), "layer1.1", 1, false);
  h = basic(basic(h, "layer2.0", 2, true), "layer2.1", 1, false);
  check_close(resnet_forward(params, x, cfg).c3, values(h), h.shape(), 1e-5, 1e-5);

  // The norm affines train (stem and layer1 only with train_stem_and_layer1);
  // the running statistics never, and the gradient reaches exactly those.
  for (bool train_stem : {false, true}) {
    cfg.train_stem_and_layer1 = train_stem;
    CHECK(resnet_is_trainable("layer3.1.bn2.bias", cfg));
    CHECK(resnet_is_trainable("layer2.0.downsample.1.weight", cfg));
    CHECK_FALSE(resnet_is_trainable("layer2.0.bn1.running_var", cfg));
    CHECK(resnet_is_trainable("bn1.weight", cfg) == train_stem);
    CHECK(resnet_is_trainable("layer1.0.bn1.bias", cfg) == train_stem);
    auto loss = [&](const Tree& p) { return sum(resnet_forward(p, x, cfg).c5); };
    Tree g = grad(loss)(params);
    for (auto& [path, leaf] : g.flatten()) {
      INFO(path << " train_stem_and_layer1=" << train_stem);
      CHECK((max_abs(leaf) > 0) == resnet_is_trainable(path, cfg));
    }
  }
}

TEST_CASE("backbone norm names and bad norm settings") {
  CHECK(to_string(BackboneNorm::group_norm) == "group_norm");
  CHECK(parse_backbone_norm("frozen_batch_norm", "norm") == BackboneNorm::frozen_batch_norm);
  check_throws_with([] { parse_backbone_norm("batch_norm", "--backbone-norm"); },
                    {"--backbone-norm", "group_norm", "batch_norm"});
  auto cfg = config(ResNetDepth::R18, 16);
  cfg.norm_groups = 0;
  check_throws_with([&] { resnet_param_specs(cfg); }, {"[resnet]", "norm_groups", "0"});
}
