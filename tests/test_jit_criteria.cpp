// The match-free loss and its gradients under jit equal eager, and fuse.
#include <nlohmann/json.hpp>

#include "grad_check.h"
#include "mfx/criteria/criteria_trees.h"
#include "mfx/jit.h"

using namespace mfx;
using namespace mfx::criteria;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

struct Problem {
  Tree probe, outs, targets;
};

Problem make_problem(int layers, int B, int N, int K, int D, int M, Dtype dtype) {
  Problem p;
  p.probe = init_probe(random::key(1), K, D, 32, dtype);
  DecoderOutputs o;
  for (int l = 0; l < layers; ++l) {
    o.logits.push_back(astype(rand_like({B, N, K}, 10 + l) * 3.0, dtype));
    o.boxes.push_back(astype(sigmoid(rand_like({B, N, 4}, 20 + l) * 2.0), dtype));
    o.hidden.push_back(astype(rand_like({B, N, D}, 30 + l), dtype));
  }
  p.outs = outputs_tree(o);
  std::vector<array> labels, boxes;
  for (int b = 0; b < B; ++b) {
    int m = b + 1;  // images with different GT counts
    labels.push_back(astype(remainder(arange(m, int32) * 3 + b, array(K)), int32));
    boxes.push_back(astype(sigmoid(rand_like({m, 4}, 40 + b)) * 0.5 + 0.25, dtype));
  }
  Targets t = pad_targets(labels, boxes, M);
  p.targets = Tree{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
  return p;
}

}  // namespace

TEST_CASE("jit of the match-free loss and its gradients equals eager", "[jit][criteria]") {
  // Five images: block fusion applies on 2-4 core machines (and on a GPU).
  auto p = make_problem(2, 5, 12, 5, 8, 6, float64);
  auto step = matchfree_loss_and_grads(2);
  auto [loss, g_probe, g_outs] = step(p.probe, p.outs, p.targets);
  const std::vector<std::pair<std::string, JitOptions>> plans = {
      {"cpu", {.name = "matchfree"}},
      {"no_block_fusion", {.name = "matchfree_plain", .block_fusion = false}},
      {"gpu", {.name = "matchfree_gpu", .plan_for_gpu = true}}};
  for (const auto& [what, options] : plans) {
    INFO("plan: " << what);
    auto jstep = jit_tree(step, options);
    auto [jloss, jg_probe, jg_outs] = jstep(p.probe, p.outs, p.targets);
    CHECK(jloss.item<double>() == Approx(loss.item<double>()).epsilon(1e-12));
    auto a = g_probe.leaves(), b = jg_probe.leaves();
    for (size_t i = 0; i < a.size(); ++i) {
      check_close(b[i], values(a[i]), a[i].shape(), 1e-10, 1e-12);
    }
    a = g_outs.leaves(), b = jg_outs.leaves();
    for (size_t i = 0; i < a.size(); ++i) {
      check_close(b[i], values(a[i]), a[i].shape(), 1e-10, 1e-12);
    }
  }
}

TEST_CASE("jit of the match-free variants equals eager", "[jit][criteria]") {
  // Extensions beyond the paper: cosine logits, Sinkhorn rounds and the
  // greedy selection (min(M, N) rounds of argmax) are all traced; nothing
  // runs on the host.
  auto p = make_problem(2, 3, 10, 4, 8, 6, float64);
  using Cfg = MatchFreeConfig;
  Cfg sinkhorn_greedy;
  sinkhorn_greedy.probe_logits = Cfg::ProbeLogits::Cosine;
  sinkhorn_greedy.attention = Cfg::Attention::Sinkhorn;
  sinkhorn_greedy.sinkhorn_iters = 12;
  sinkhorn_greedy.selection = Cfg::Selection::Greedy;
  Cfg sinkhorn_threshold;
  sinkhorn_threshold.attention = Cfg::Attention::Sinkhorn;
  sinkhorn_threshold.probe_inputs_stop_gradient = false;
  for (const Cfg& cfg : {sinkhorn_greedy, sinkhorn_threshold}) {
    INFO("variant " << matchfree_variant(cfg));
    auto step = matchfree_loss_and_grads(2, cfg);
    auto [loss, g_probe, g_outs] = step(p.probe, p.outs, p.targets);
    auto jstep = jit_tree(step, {.name = "matchfree_variant"});
    auto [jloss, jg_probe, jg_outs] = jstep(p.probe, p.outs, p.targets);
    CHECK(jloss.item<double>() == Approx(loss.item<double>()).epsilon(1e-12));
    auto a = g_probe.leaves(), b = jg_probe.leaves();
    for (size_t i = 0; i < a.size(); ++i) {
      check_close(b[i], values(a[i]), a[i].shape(), 1e-10, 1e-12);
    }
    a = g_outs.leaves(), b = jg_outs.leaves();
    for (size_t i = 0; i < a.size(); ++i) {
      check_close(b[i], values(a[i]), a[i].shape(), 1e-10, 1e-12);
    }
  }
}

TEST_CASE("jit of the two-stage proposals' loss and its gradients equals eager",
          "[jit][criteria]") {
  // Three images of 40 tokens with 2..4 ground truths; centres on a grid so
  // that many tokens are positives of overlapping boxes.
  const int B = 3, S = 40, K = 4, M = 4;
  std::vector<double> centres;
  for (int b = 0; b < B; ++b) {
    for (int i = 0; i < S; ++i) {
      centres.push_back((i % 8 + 0.5) / 8);
      centres.push_back((i / 8 + 0.5) / 5);
    }
  }
  std::vector<array> labels, boxes;
  for (int b = 0; b < B; ++b) {
    const int m = b + 2;
    labels.push_back(astype(remainder(arange(m, int32) + b, array(K)), int32));
    boxes.push_back(sigmoid(rand_like({m, 4}, 50 + b)) * 0.5 + 0.25);
  }
  const Targets t = pad_targets(labels, boxes, M);
  const array c(centres, {B, S, 2});
  const array valid = rand_like({B, S}, 7) > array(-0.8);
  auto fn = [&](const std::vector<array>& in) {
    EncoderProposals p{in[0], sigmoid(in[1]), c, valid};
    array loss = encoder_proposal_loss(p, t).first;
    auto [gz, gb] = grad<0, 1>([&](const array& z, const array& b) {
      return encoder_proposal_loss({z, sigmoid(b), c, valid}, t).first;
    })(in[0], in[1]);
    return std::vector<array>{loss, gz, gb};
  };
  const std::vector<array> in{rand_like({B, S, K}, 3) * 2.0, rand_like({B, S, 4}, 4)};
  const auto eager = fn(in);
  const auto jitted = jit(fn, {.name = "encoder_proposals"})(in);
  for (size_t i = 0; i < eager.size(); ++i) {
    INFO("output " << i);
    check_close(jitted[i], values(eager[i]), eager[i].shape(), 1e-10, 1e-12);
  }
}
