// train_step with StepConfig::jit against the eager step: the match-free
// step as one compiled program and the Hungarian mixed schedule (compiled
// forward and derivative, host matching between) give the eager losses,
// components, gradients and updated parameters over several steps whose
// dropout keys and ground-truth counts differ (they are program inputs, not
// constants baked into the first trace).
#include "mfx/mfx.h"
#include "mfx/train/fit.h"
#include "test_utils.h"
#include "tiny_detector.h"

using namespace mfx;

namespace {

// Step k's batch: 2 images of 64x64, k + 1 and 2 ground truths, padded to M = 4.
detr::Batch batch_for(int k) {
  array images = astype(random::normal(random::key(100 + k), {2, 3, 64, 64}), float64);
  array mask = zeros({2, 64, 64}, bool_);
  std::vector<array> labels, boxes;
  for (int b = 0; b < 2; ++b) {
    const int n = b == 0 ? k + 1 : 2;
    labels.push_back(astype(remainder(arange(n, int32) + k + b, array(5)), int32));
    boxes.push_back(random::uniform(random::key(200 + 10 * k + b), {n, 4}, 0.3, 0.7, float64));
  }
  criteria::Targets t = criteria::pad_targets(labels, boxes, 4);
  return {images, mask, t};
}

void expect_close(const array& got, const array& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    err = std::max(err, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  // Leaves that are zero up to rounding (the bias of MLP_q's last layer
  // cancels in the softmax) are compared absolutely.
  CHECK(err <= 1e-8 * scale + 1e-15);
}

void expect_close(const Tree& got, const Tree& want, const std::string& what) {
  REQUIRE(got.same_structure(want));
  auto g = got.flatten(), w = want.flatten();
  for (size_t i = 0; i < g.size(); ++i)
    expect_close(g[i].second, w[i].second, what + "." + g[i].first);
}

}  // namespace

TEST_CASE("a jitted training step equals the eager step, step after step", "[train][jit]") {
  const auto model = mfx::test::tiny_detector(5, 0.1);
  for (auto criterion : {criteria::Criterion::matchfree, criteria::Criterion::hungarian}) {
    INFO(criteria::to_string(criterion));
    array key = random::key(11);
    Tree params{{"model", detr::init_detector(random::fold_in(key, 1), model, float64)},
                {"probe", criteria::init_probe(random::fold_in(key, 2), model.detr.num_classes,
                                               model.detr.d_model, 32, float64)}};
    optim::AdamW opt(detr::detector_adamw_config(model, "model.", 1e-3, 1e-4, 1.0));
    Tree p_eager = params, s_eager = opt.init(params);
    Tree p_jit = p_eager, s_jit = s_eager;
    train::StepConfig eager;
    eager.criterion = criterion;
    eager.loss.model = model;
    train::StepConfig jitted = eager;
    jitted.jit = true;
    for (int k = 0; k < 3; ++k) {
      const detr::StepInputs in{.dropout_key = random::key(1000 + k)};
      const detr::Batch batch = batch_for(k);
      auto e = train::train_step(p_eager, s_eager, opt, batch, eager, k, in);
      auto j = train::train_step(p_jit, s_jit, opt, batch, jitted, k, in);
      const std::string at =
          std::string(criteria::to_string(criterion)) + " step " + std::to_string(k);
      expect_close(j.loss, e.loss, at + " loss");
      expect_close(j.components, e.components, at + " components");
      expect_close(j.grads, e.grads, at + " grads");
      expect_close(p_jit, p_eager, at + " params");
      CHECK(j.num_gt == e.num_gt);
    }
  }
}

TEST_CASE("a jitted step rejects what it cannot compile", "[train][jit]") {
  const auto model = mfx::test::tiny_detector(5, 0.1);
  Tree params{{"model", detr::init_detector(random::key(1), model, float64)},
              {"probe", criteria::init_probe(random::key(2), 5, 32, 32, float64)}};
  optim::AdamW opt(detr::detector_adamw_config(model, "model.", 1e-3, 1e-4, 1.0));
  Tree state = opt.init(params);
  train::StepConfig sc;
  sc.criterion = criteria::Criterion::matchfree;
  sc.loss.model = model;
  sc.jit = true;
  detr::StepInputs fixed;
  fixed.criterion.fixed_assignment = std::vector<array>{};
  mfx::test::check_throws_with(
      [&] { train::train_step(params, state, opt, batch_for(0), sc, 0, fixed); },
      {"train_step", "fixed assignment"});
}

TEST_CASE("a jitted step compiles anew for another match-free variant", "[train][jit]") {
  // The compiled steps are cached per configuration: a variant (an
  // extension beyond the paper) must not reuse the paper loss's program.
  const auto model = mfx::test::tiny_detector(5, 0.1);
  array key = random::key(12);
  Tree params{{"model", detr::init_detector(random::fold_in(key, 1), model, float64)},
              {"probe", criteria::init_probe(random::fold_in(key, 2), model.detr.num_classes,
                                             model.detr.d_model, 32, float64)}};
  optim::AdamW opt(detr::detector_adamw_config(model, "model.", 1e-3, 1e-4, 1.0));
  const detr::Batch batch = batch_for(1);
  train::StepConfig paper;
  paper.criterion = criteria::Criterion::matchfree;
  paper.loss.model = model;
  train::StepConfig variant = paper;
  variant.loss.matchfree.probe_logits = criteria::MatchFreeConfig::ProbeLogits::Cosine;
  variant.loss.matchfree.attention = criteria::MatchFreeConfig::Attention::Sinkhorn;
  variant.loss.matchfree.sinkhorn_iters = 5;
  variant.loss.matchfree.selection = criteria::MatchFreeConfig::Selection::Greedy;
  auto step = [&](train::StepConfig sc, bool jit) {
    sc.jit = jit;
    Tree p = params, s = opt.init(params);
    return train::train_step(p, s, opt, batch, sc, 0);
  };
  auto paper_jit = step(paper, true);
  auto variant_eager = step(variant, false);
  auto variant_jit = step(variant, true);
  expect_close(variant_jit.loss, variant_eager.loss, "variant loss");
  expect_close(variant_jit.components, variant_eager.components, "variant components");
  expect_close(variant_jit.grads, variant_eager.grads, "variant grads");
  CHECK(std::abs(variant_jit.loss.item<double>() - paper_jit.loss.item<double>()) > 1e-6);
}
