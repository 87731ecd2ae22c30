// The whole detector against an independent reference: a tiny Deformable
// DETR (ResNet-18 / 32, 4 levels, d_model 32) with fixed weights, its forward
// pass and the gradients of both training losses, all computed in float64 by
// a JAX transcription of the reference implementation
// (tests/fixtures/gen_detr_model_fixture.py -> detr_model_fixture.safetensors).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mfx/detr/detector.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::detr;
using namespace mfx::resnet;
using mfx::test::values;

namespace {

const std::string kFixture = mfx::test::data_path("detr_model_fixture.safetensors");

// The generator's configuration.
DetectorConfig fixture_config() {
  DetectorConfig c;
  c.backbone.depth = ResNetDepth::R18;
  c.backbone.width_divisor = 32;
  c.detr.d_model = 32;
  c.detr.nheads = 2;
  c.detr.enc_layers = 2;
  c.detr.dec_layers = 2;
  c.detr.dim_ff = 64;
  c.detr.dropout = 0.0;
  c.detr.num_queries = 10;
  c.detr.num_feature_levels = 4;
  c.detr.enc_points = 2;
  c.detr.dec_points = 2;
  c.detr.num_classes = 4;
  c.detr.gn_groups = 8;
  c.detr.backbone_channels = resnet_feature_channels(c.backbone);
  c.detr.backbone_strides = {8, 16, 32};
  return c;
}

struct Fixture {
  std::map<std::string, array> t;
  DetectorConfig cfg = fixture_config();
  Tree model, probe;
  detr::Batch batch;

  Fixture() : t(load_safetensors(kFixture)) {
    model = subtree("model.");
    probe = subtree("probe.");
    batch.images = astype(at("input.images"), float64);
    batch.mask = at("input.mask");
    batch.targets = {at("target.labels"), astype(at("target.boxes"), float64), at("target.mask")};
  }

  const array& at(const std::string& name) const {
    auto it = t.find(name);
    INFO("fixture tensor " << name);
    REQUIRE(it != t.end());
    return it->second;
  }

  // Tensors named prefix + path, as a float64 Tree of the paths.
  Tree subtree(const std::string& prefix) const {
    std::vector<std::pair<std::string, array>> items;
    for (const auto& [name, value] : t) {
      if (name.rfind(prefix, 0) == 0)
        items.emplace_back(name.substr(prefix.size()), astype(value, float64));
    }
    return Tree::from_flat(items);
  }

  detr::LossConfig loss_config() const {
    detr::LossConfig lc;
    lc.model = cfg;
    lc.train = false;  // deterministic: no dropout (also 0 in cfg)
    return lc;
  }
};

double max_abs_diff(const array& a, const array& b) {
  return max(abs(astype(a, float64) - astype(b, float64))).item<double>();
}

double norm2(const array& a) {
  return std::sqrt(sum(square(astype(a, float64))).item<double>());
}

// Forward outputs: max |got - expected| <= tol, shapes equal.
void check_output(const std::string& what, const array& got, const array& expected,
                  double tol = 1e-4) {
  INFO(what << ": got " << shape_str(got.shape()) << ", expected " << shape_str(expected.shape()));
  REQUIRE(got.shape() == expected.shape());
  const double d = max_abs_diff(got, expected);
  INFO(what << ": max abs diff " << d);
  CHECK(d <= tol);
}

// One gradient tensor against its reference: ||g - g_ref|| <= 1e-3 * max(||g_ref||,
// tiny) and every element within 1e-3 relative plus an absolute floor of
// 1e-3 * max(max |g_ref|, tiny). `tiny` (1e-6 of the loss's whole gradient
// norm) covers tensors whose exact gradient is 0 (e.g. the bias of the
// probe's last query layer: the softmax over queries ignores a shift common
// to all queries), where both sides hold rounding noise only.
void check_gradient(const std::string& path, const array& g, const array& ref, double tiny) {
  INFO(path << ": got " << shape_str(g.shape()) << ", expected " << shape_str(ref.shape()));
  REQUIRE(g.shape() == ref.shape());
  const array r = astype(ref, float64);
  const double ref_norm = norm2(r);
  const double rel = norm2(astype(g, float64) - r) / std::max(ref_norm, tiny);
  INFO(path << ": relative error " << rel << " (reference norm " << ref_norm << ")");
  CHECK(rel <= 1e-3);
  const double floor = 1e-3 * std::max(max(abs(r)).item<double>(), tiny);
  const auto got = values(g), want = values(r);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= 1e-3 * std::abs(want[i]) + floor)) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(path << ": " << bad << " elements off, first " << first << ": got "
            << (bad ? got[first] : 0.0) << " expected " << (bad ? want[first] : 0.0));
  CHECK(bad == 0);
}

// Compares every leaf of `grads` with the reference gradients stored under
// `prefix`: trainable leaves against their tensor, frozen ones (no tensor in
// the file) must be exactly zero, and every stored tensor must have a leaf.
void check_gradients(const Fixture& f, const Tree& grads, const std::string& prefix,
                     const Tree& params) {
  REQUIRE(grads.same_structure(params));
  double total = 0;
  size_t stored = 0;
  for (const auto& [name, value] : f.t) {
    if (name.rfind(prefix, 0) != 0) continue;
    ++stored;
    total += sum(square(astype(value, float64))).item<double>();
  }
  const double tiny = 1e-6 * std::sqrt(total);
  size_t compared = 0;
  for (const auto& [path, g] : grads.flatten()) {
    auto it = f.t.find(prefix + path);
    if (it == f.t.end()) {
      INFO(path << " has no reference gradient: it must be frozen, so zero");
      CHECK(max(abs(g)).item<double>() == 0.0);
      continue;
    }
    check_gradient(path, g, it->second, tiny);
    ++compared;
  }
  CHECK(compared == stored);
}

}  // namespace

TEST_CASE("fixture weights carry exactly the detector's parameter names", "[detr][fixture]") {
  Fixture f;
  const Tree init = init_detector(random::key(0), f.cfg, float64);  // lazy: shapes only
  std::map<std::string, Shape> want, got;
  for (const auto& [path, leaf] : init.flatten()) want.emplace(path, leaf.shape());
  for (const auto& [path, leaf] : f.model.flatten()) got.emplace(path, leaf.shape());
  CHECK(got == want);
  const Tree probe = criteria::init_probe(random::key(0), f.cfg.detr.num_classes,
                                          f.cfg.detr.d_model, f.at("probe.w_q").shape(0), float64);
  std::map<std::string, Shape> probe_want, probe_got;
  for (const auto& [path, leaf] : probe.flatten()) probe_want.emplace(path, leaf.shape());
  for (const auto& [path, leaf] : f.probe.flatten()) probe_got.emplace(path, leaf.shape());
  CHECK(probe_got == probe_want);
}

TEST_CASE("tiny detector forward matches the reference on every decoder layer", "[detr][fixture]") {
  Fixture f;
  // Backbone first, so that a mismatch says where it starts.
  const Features feats =
      resnet_forward(detector_backbone_params(f.model), f.batch.images, f.cfg.backbone);
  check_output("c3", feats.c3, f.at("features.c3"));
  check_output("c4", feats.c4, f.at("features.c4"));
  check_output("c5", feats.c5, f.at("features.c5"));

  const criteria::DecoderOutputs out =
      detector_forward(f.model, f.batch.images, f.batch.mask, f.cfg);
  REQUIRE(out.logits.size() == 2);
  for (size_t l = 0; l < out.logits.size(); ++l) {
    const std::string i = std::to_string(l);
    CHECK(out.logits[l].dtype() == float64);
    check_output("logits " + i, out.logits[l], f.at("out.logits." + i));
    check_output("boxes " + i, out.boxes[l], f.at("out.boxes." + i));
    check_output("hidden " + i, out.hidden[l], f.at("out.hidden." + i));
  }
}

TEST_CASE("tiny detector Hungarian loss and gradients match the reference", "[detr][fixture]") {
  Fixture f;
  const detr::LossConfig lc = f.loss_config();
  // The matching of every layer (a wrong one would change the loss).
  const criteria::DecoderOutputs out =
      detector_forward(f.model, f.batch.images, f.batch.mask, f.cfg);
  for (size_t l = 0; l < out.logits.size(); ++l) {
    const auto match =
        criteria::hungarian_match(out.logits[l], out.boxes[l], f.batch.targets, lc.hungarian.cost);
    const auto want = values(f.at("hungarian.query_of_gt." + std::to_string(l)));
    const int64_t m = f.batch.targets.labels.shape(1);
    std::vector<double> got(want.size(), -1.0);
    for (size_t b = 0; b < match.size(); ++b) {
      for (size_t p = 0; p < match[b].gts.size(); ++p) {
        got[b * m + match[b].gts[p]] = static_cast<double>(match[b].queries[p]);
      }
    }
    INFO("layer " << l);
    CHECK(got == want);
  }

  auto [value, g] = value_and_grad(detr::hungarian_loss)(f.model, f.batch, lc);
  const double expected = f.at("hungarian.loss").item<double>();
  CHECK(std::abs(value.item<double>() - expected) <= 1e-6 * std::abs(expected));
  check_gradients(f, g, "hungarian.grad.", f.model);
}

TEST_CASE("tiny detector match-free loss and gradients match the reference", "[detr][fixture]") {
  Fixture f;
  const detr::LossConfig lc = f.loss_config();
  // The probe's attention and the sparse correspondence of every layer.
  const criteria::DecoderOutputs out =
      detector_forward(f.model, f.batch.images, f.batch.mask, f.cfg);
  for (size_t l = 0; l < out.logits.size(); ++l) {
    const std::string i = std::to_string(l);
    const array a = criteria::probe_attention(f.probe, out.logits[l], out.boxes[l], out.hidden[l],
                                              f.batch.targets);
    check_output("attention " + i, a, f.at("matchfree.attention." + i), 1e-6);
    const array a_hat =
        criteria::sparse_correspondence(a, lc.matchfree.rho, lc.matchfree.eps, lc.matchfree.norm);
    check_output("a_hat " + i, a_hat, f.at("matchfree.a_hat." + i), 1e-6);
  }

  const Tree params{{"model", f.model}, {"probe", f.probe}};
  auto [value, g] = value_and_grad(detr::matchfree_loss)(params, f.batch, lc);
  const double expected = f.at("matchfree.loss").item<double>();
  CHECK(std::abs(value.item<double>() - expected) <= 1e-6 * std::abs(expected));
  check_gradients(f, g["model"], "matchfree.grad.model.", f.model);
  check_gradients(f, g["probe"], "matchfree.grad.probe.", f.probe);
}
