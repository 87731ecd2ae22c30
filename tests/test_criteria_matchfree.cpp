// The match-free (CAQS) criterion: sparse correspondence, probe, one-hot
// equivalence with the Hungarian loss, gradients, padding and empty images.
#include <map>

#include "grad_check.h"
#include "mfx/criteria/criteria.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::criteria;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::rand_like;
using Norm = MatchFreeConfig::Norm;

namespace {

constexpr int64_t kB = 2, kN = 5, kK = 3, kD = 4, kWidth = 8;

// A small float64 batch: image 0 has 2 GTs, image 1 has 1, padded to `bucket`.
struct Case {
  DecoderOutputs out;
  Targets targets;
  Tree probe;

  explicit Case(int64_t bucket = 8, uint64_t seed = 1) {
    for (uint64_t l = 0; l < 2; ++l) {
      out.logits.push_back(2.0 * rand_like({kB, kN, kK}, seed + 10 * l) - 1.0);
      array u = rand_like({kB, kN, 4}, seed + 10 * l + 1);  // [-1, 1)
      array centre = 0.5 + 0.2 * slice_axis(u, 2, 0, 2);
      array size = 0.25 + 0.15 * slice_axis(u, 2, 2, 4);
      out.boxes.push_back(concatenate({centre, size}, 2));
      out.hidden.push_back(rand_like({kB, kN, kD}, seed + 10 * l + 2));
    }
    targets = pad_targets({array({2, 0}, Shape{2}, int32), array({1}, Shape{1}, int32)},
                          {array({0.4, 0.5, 0.3, 0.2, 0.6, 0.6, 0.2, 0.3}, Shape{2, 4}, float64),
                           array({0.5, 0.4, 0.4, 0.4}, Shape{1, 4}, float64)},
                          bucket);
    probe = init_probe(random::key(seed), kK, kD, kWidth, float64);
  }
};

// One-hot [B, M, N] of a Hungarian assignment.
array one_hot_assignment(const std::vector<Matching>& m, int64_t M, int64_t N) {
  std::vector<double> v(static_cast<size_t>(m.size() * M * N), 0.0);
  for (size_t b = 0; b < m.size(); ++b) {
    for (size_t p = 0; p < m[b].gts.size(); ++p) v[(b * M + m[b].gts[p]) * N + m[b].queries[p]] = 1;
  }
  return array(v, {static_cast<int64_t>(m.size()), M, N}, float64);
}

}  // namespace

TEST_CASE("sparse_correspondence on hand-made attention") {
  // Image 0: both rows keep two entries (0.3 sits exactly on rho * 0.6 and
  // is kept); the last row is padding. Image 1: the column threshold drops
  // row 1's 0.3 entries (colmax 0.8 -> tau 0.4).
  array a = array({0.6, 0.3, 0.1, 0.5, 0.45, 0.05, 0.0, 0.0, 0.0,  //
                   0.8, 0.15, 0.05, 0.3, 0.4, 0.3, 0.1, 0.1, 0.8},
                  Shape{2, 3, 3}, float64);
  const double e = 1e-6;
  check_close(sparse_correspondence(a, 0.5, e, Norm::None),
              {0.6, 0.3, 0, 0.5, 0.45, 0, 0, 0, 0, 0.8, 0, 0, 0, 0.4, 0, 0, 0, 0.8}, {2, 3, 3},
              1e-12, 1e-12);
  check_close(sparse_correspondence(a, 0.5, e, Norm::Sum),
              {0.6 / (0.9 + e), 0.3 / (0.9 + e), 0, 0.5 / (0.95 + e), 0.45 / (0.95 + e), 0, 0, 0, 0,
               0.8 / (0.8 + e), 0, 0, 0, 0.4 / (0.4 + e), 0, 0, 0, 0.8 / (0.8 + e)},
              {2, 3, 3}, 1e-12, 1e-12);
  check_close(sparse_correspondence(a, 0.5, e, Norm::Max),
              {0.6 / (0.6 + e), 0.3 / (0.6 + e), 0, 0.5 / (0.5 + e), 0.45 / (0.5 + e), 0, 0, 0, 0,
               0.8 / (0.8 + e), 0, 0, 0, 0.4 / (0.4 + e), 0, 0, 0, 0.8 / (0.8 + e)},
              {2, 3, 3}, 1e-12, 1e-12);
  // rho = 0 keeps every positive entry.
  array b = array({0.7, 0.2, 0.1, 0.0}, Shape{1, 4}, float64);
  check_close(sparse_correspondence(b, 0.0, 0.0, Norm::Sum), {0.7, 0.2, 0.1, 0.0}, {1, 4});
  // rho = 0.9 on the transposes (strided views): only the row maxima survive
  // the row filter, and the column threshold drops the 0.1 of row 2.
  check_close(sparse_correspondence(transpose(a, {0, 2, 1}), 0.9, 0.0, Norm::None),
              {0.6, 0, 0, 0, 0.45, 0, 0, 0, 0, 0.8, 0, 0, 0, 0.4, 0, 0, 0, 0.8}, {2, 3, 3});
  // A constant: no gradient flows through it.
  auto g = grad(
      [](const array& x) { return sum(sparse_correspondence(x, 0.5, 1e-6, Norm::Sum) * x); })(a);
  check_close(g, test::values(sparse_correspondence(a, 0.5, 1e-6, Norm::Sum)), {2, 3, 3});
  check_throws_with(
      [] {
        sparse_correspondence(array({1, 2}, Shape{2}, int32), 0.5, 0, Norm::Sum);
      },
      {"[sparse_correspondence]", "(2)"});
}

TEST_CASE("init_probe and probe_attention") {
  Case c;
  CHECK(c.probe.at("mlp_gt.0.weight").shape() == Shape{kWidth, kK + 4});
  CHECK(c.probe.at("mlp_q.0.weight").shape() == Shape{kWidth, kD + 4 + kK});
  CHECK(c.probe.at("mlp_q.1.bias").shape() == Shape{kWidth});
  CHECK(c.probe.at("w_k").shape() == Shape{kWidth, kWidth});
  CHECK(c.probe.at("w_q").dtype() == float64);
  // torch.nn.Linear bounds: 1/sqrt(fan_in).
  CHECK(max(abs(c.probe.at("mlp_gt.0.weight"))).item<double>() <= 1.0 / std::sqrt(7.0));
  CHECK(max(abs(c.probe.at("mlp_q.0.weight"))).item<double>() <= 1.0 / std::sqrt(11.0));
  CHECK(max(abs(c.probe.at("w_q"))).item<double>() <= 1.0 / std::sqrt(8.0));
  CHECK(max(abs(c.probe.at("w_q"))).item<double>() > 0.2);
  Tree again = init_probe(random::key(1), kK, kD, kWidth, float64);
  for (auto& [path, leaf] : again.flatten()) CHECK(array_equal(leaf, c.probe.at(path)));
  CHECK(init_probe(random::key(0), 91, 256).at("mlp_q.0.weight").shape() == Shape{256, 351});
  check_throws_with([] { init_probe(random::key(0), 0, 4); }, {"[init_probe]", "0"});

  array a = probe_attention(c.probe, c.out.logits[0], c.out.boxes[0], c.out.hidden[0], c.targets);
  REQUIRE(a.shape() == Shape{kB, 8, kN});
  // Rows of real GTs are distributions over queries; padded rows are zero.
  check_close(sum(a, -1), {1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, {kB, 8});
  CHECK(min(a).item<double>() >= 0.0);

  Tree wrong_k = init_probe(random::key(1), kK + 1, kD, kWidth, float64);
  check_throws_with(
      [&] {
        probe_attention(wrong_k, c.out.logits[0], c.out.boxes[0], c.out.hidden[0], c.targets);
      },
      {"[probe_attention]", "mlp_gt.0.weight", "(8,8)", "(8,7)"});
  check_throws_with(
      [&] { probe_attention(Tree{}, c.out.logits[0], c.out.boxes[0], c.out.hidden[0], c.targets); },
      {"[probe_attention]", "mlp_gt.0.weight"});
}

TEST_CASE("match-free L_q with a one-hot assignment equals the Hungarian loss") {
  auto fx = load_safetensors(mfx::test::data_path("criteria_fixtures.safetensors"));
  Targets t{astype(fx.at("gt_labels"), int32), fx.at("gt_boxes"), astype(fx.at("gt_mask"), bool_)};
  DecoderOutputs out;
  std::vector<array> fixed;
  for (int l = 0; l < 2; ++l) {
    out.logits.push_back(fx.at("logits_" + std::to_string(l)));
    out.boxes.push_back(fx.at("boxes_" + std::to_string(l)));
    out.hidden.push_back(rand_like({2, 6, kD}, 5 + l));
    fixed.push_back(one_hot_assignment(hungarian_match(out.logits[l], out.boxes[l], t, {}), 3, 6));
  }
  Tree probe = init_probe(random::key(3), 5, kD, kWidth, float64);
  MatchFreeConfig cfg;
  const StepInputs in{.fixed_assignment = fixed};
  LossResult mf = matchfree_criterion(probe, out, t, cfg, in);
  LossResult h = hungarian_criterion(out, t, HungarianConfig{});
  double total = 0;
  for (int l = 0; l < 2; ++l) {
    const std::string s = std::to_string(l);
    INFO("layer " << l);
    const double ce = h.components.at("loss_ce_" + s).item<double>();
    const double bb = h.components.at("loss_bbox_" + s).item<double>();
    const double gi = h.components.at("loss_giou_" + s).item<double>();
    CHECK(mf.components.at("L_q_" + s).item<double>() ==
          Approx(2 * ce + 5 * bb + 2 * gi).epsilon(1e-12));
    CHECK(mf.components.at("L_q_" + s).item<double>() ==
          Approx(2 * fx.at("loss_ce_" + s).item<double>() +
                 5 * fx.at("loss_bbox_" + s).item<double>() +
                 2 * fx.at("loss_giou_" + s).item<double>())
              .epsilon(1e-9));
    CHECK(mf.components.at("loss_ce_" + s).item<double>() == Approx(ce).epsilon(1e-12));
    check_close(mf.components.at("selected_per_gt_" + s), {1, 1, 1, 1, 1, 0}, {2, 3});
    total += mf.components.at("L_w_" + s).item<double>() + 2 * ce + 5 * bb + 2 * gi;
  }
  CHECK(mf.loss.item<double>() == Approx(total).epsilon(1e-12));
  // L_q gradients equal the Hungarian ones (L_w switched off).
  cfg.alpha_w = 0;
  auto gm = grad([&](const array& lg) {
    DecoderOutputs o = out;
    o.logits[1] = lg;
    return matchfree_criterion(probe, o, t, cfg, in).loss;
  })(out.logits[1]);
  auto gh = grad([&](const array& lg) {
    DecoderOutputs o = out;
    o.logits[1] = lg;
    return hungarian_criterion(o, t, HungarianConfig{}).loss;
  })(out.logits[1]);
  CHECK(allclose(gm, gh, 1e-10, 1e-12));
}

TEST_CASE("match-free loss terms by hand on the learned correspondence") {
  Case c;
  MatchFreeConfig cfg;
  LossResult r = matchfree_criterion(c.probe, c.out, c.targets, cfg);
  for (int l = 0; l < 2; ++l) {
    const std::string s = std::to_string(l);
    INFO("layer " << l);
    array a = probe_attention(c.probe, c.out.logits[l], c.out.boxes[l], c.out.hidden[l], c.targets);
    array ah = sparse_correspondence(a, 0.5, 1e-6, Norm::Sum);
    array cost = matching_cost(c.out.logits[l], c.out.boxes[l], c.targets, {});
    // 3 real GTs -> num_boxes 3.
    CHECK(r.components.at("L_w_" + s).item<double>() ==
          Approx(sum(a * cost).item<double>() / 3).epsilon(1e-12));
    auto sel = test::values(r.components.at("selected_per_gt_" + s));
    auto ahv = test::values(ah);
    for (int64_t i = 0; i < kB * 8; ++i) {
      int count = 0;
      for (int64_t j = 0; j < kN; ++j) count += ahv[i * kN + j] > 0;
      CHECK(sel[i] == count);
      if (i != 0 && i != 1 && i != 8) CHECK(count == 0);
    }
    // L_q assembled from loops over the dense matrices.
    auto lg = test::values(c.out.logits[l]);
    auto fp = test::values(focal_positive(c.out.logits[l], 0.25, 2));
    auto fn = test::values(focal_negative(c.out.logits[l], 0.25, 2));
    auto l1 = test::values(l1_cost(c.out.boxes[l], c.targets.boxes));
    auto gi = test::values(pairwise_giou(c.out.boxes[l], c.targets.boxes));
    auto lab = test::values(c.targets.labels);
    double pos = 0, box = 0;
    std::vector<bool> y(kB * kN * kK, false);
    for (int64_t b = 0; b < kB; ++b) {
      for (int64_t i = 0; i < 8; ++i) {
        for (int64_t j = 0; j < kN; ++j) {
          const double w = ahv[(b * 8 + i) * kN + j];
          if (w <= 0) continue;
          const int64_t k = static_cast<int64_t>(lab[b * 8 + i]);
          pos += w * fp[(b * kN + j) * kK + k];
          box += w * (5 * l1[(b * 8 + i) * kN + j] + 2 * (1 - gi[(b * 8 + i) * kN + j]));
          y[(b * kN + j) * kK + k] = true;
        }
      }
    }
    double neg = 0;
    for (size_t q = 0; q < y.size(); ++q) neg += y[q] ? 0 : fn[q];
    CHECK(r.components.at("L_q_" + s).item<double>() ==
          Approx((2 * (pos + neg) + box) / 3).epsilon(1e-12));
  }
  // Normalisation options change L_q; weights scale the parts.
  // (The untrained probe's rows are near uniform and sum to about 1, so
  // Max, which scales them by about 1/max, is the option that differs.)
  MatchFreeConfig by_max = cfg;
  by_max.norm = Norm::Max;
  CHECK(matchfree_criterion(c.probe, c.out, c.targets, by_max).loss.item<double>() !=
        Approx(r.loss.item<double>()).epsilon(1e-3));
  MatchFreeConfig only_w = cfg;
  only_w.beta_q = 0;
  only_w.alpha_w = 2;
  CHECK(matchfree_criterion(c.probe, c.out, c.targets, only_w).loss.item<double>() ==
        Approx(2 *
               (r.components.at("L_w_0").item<double>() + r.components.at("L_w_1").item<double>()))
            .epsilon(1e-12));
}

TEST_CASE("match-free gradients match central differences (float64)") {
  // Â is a stop-gradient constant but its values move with A, so central
  // differences are taken with Â frozen at the base point (given as
  // fixed_assignment); the criterion's own gradient must equal that one.
  Case c;
  const std::vector<array> probe_leaves = c.probe.leaves();
  std::vector<array> a_hat;
  for (int l = 0; l < 2; ++l) {
    a_hat.push_back(sparse_correspondence(
        probe_attention(c.probe, c.out.logits[l], c.out.boxes[l], c.out.hidden[l], c.targets), 0.5,
        1e-6, Norm::Sum));
  }
  for (bool stop : {false, true}) {
    INFO("probe_inputs_stop_gradient " << stop);
    MatchFreeConfig cfg;
    cfg.probe_inputs_stop_gradient = stop;
    const StepInputs frozen{.fixed_assignment = a_hat};
    auto make = [&](const MatchFreeConfig& conf, const StepInputs& step = {}) {
      return [&, conf, step](const std::vector<array>& in) {
        DecoderOutputs o{
            {in[0], c.out.logits[1]}, {in[1], c.out.boxes[1]}, {in[2], c.out.hidden[1]}};
        Tree probe = c.probe.unflatten(std::vector<array>(in.begin() + 3, in.end()));
        return matchfree_criterion(probe, o, c.targets, conf, step).loss;
      };
    };
    std::vector<array> inputs{c.out.logits[0], c.out.boxes[0], c.out.hidden[0]};
    inputs.insert(inputs.end(), probe_leaves.begin(), probe_leaves.end());
    auto grads_of = [&](const MatchFreeConfig& conf, const std::vector<array>& at,
                        const StepInputs& step = {}) {
      auto f = make(conf, step);
      return vjp([&](const std::vector<array>& in) { return std::vector<array>{f(in)}; }, at,
                 std::vector<array>{array(1.0)})
          .second;
    };
    auto g = grads_of(cfg, inputs);
    if (!stop) {
      // Everything differentiates except the constants Â and C (in L_w):
      // the reference is L_q with Â frozen plus sum(A * C0) / num_boxes with
      // C0 the cost at the base point.
      std::vector<array> c0;
      for (int l = 0; l < 2; ++l) {
        c0.push_back(matching_cost(c.out.logits[l], c.out.boxes[l], c.targets, {}));
      }
      MatchFreeConfig frozen_q = cfg;
      frozen_q.alpha_w = 0;
      auto lq = make(frozen_q, frozen);
      auto ref = [&, lq](const std::vector<array>& in) {
        Tree probe = c.probe.unflatten(std::vector<array>(in.begin() + 3, in.end()));
        array a0 = probe_attention(probe, in[0], in[1], in[2], c.targets, false);
        array a1 = probe_attention(probe, c.out.logits[1], c.out.boxes[1], c.out.hidden[1],
                                   c.targets, false);
        return lq(in) + (sum(a0 * c0[0]) + sum(a1 * c0[1])) / 3.0;  // 3 real GTs
      };
      CHECK(ref(inputs).item<double>() == Approx(make(cfg)(inputs).item<double>()).epsilon(1e-12));
      test::check_fn_grads(ref, inputs);
      auto gr = vjp([&](const std::vector<array>& in) { return std::vector<array>{ref(in)}; },
                    inputs, std::vector<array>{array(1.0)})
                    .second;
      for (size_t i = 0; i < inputs.size(); ++i) {
        INFO("input " << i);
        CHECK(allclose(g[i], gr[i], 1e-12, 1e-14));
      }
    } else {
      // The detector only sees L_q (A's inputs are stopped, C is stopped in
      // L_w), so its gradient is that of L_q with Â frozen ...
      MatchFreeConfig frozen_q = cfg;
      frozen_q.alpha_w = 0;
      test::check_fn_grads(make(frozen_q, frozen), inputs);
      auto gq = grads_of(frozen_q, inputs, frozen);
      for (size_t i = 0; i < 3; ++i) {
        INFO("input " << i);
        CHECK(allclose(g[i], gq[i], 1e-12, 1e-14));
      }
      // ... and the probe's is that of the loss with the detector held fixed.
      auto probe_only = [&](const std::vector<array>& leaves) {
        std::vector<array> in{inputs[0], inputs[1], inputs[2]};
        in.insert(in.end(), leaves.begin(), leaves.end());
        return make(cfg, frozen)(in);
      };
      test::check_fn_grads(probe_only, probe_leaves);
      auto gp =
          vjp([&](const std::vector<array>& in) { return std::vector<array>{probe_only(in)}; },
              probe_leaves, std::vector<array>{array(1.0)})
              .second;
      for (size_t i = 0; i < probe_leaves.size(); ++i) {
        INFO("probe leaf " << i);
        CHECK(allclose(g[3 + i], gp[i], 1e-12, 1e-14));
      }
    }
    // The probe's query inputs carry gradient only when allowed.
    const double hidden_norm = sum(abs(g[2])).item<double>();
    if (stop) {
      CHECK(hidden_norm == 0.0);
    } else {
      CHECK(hidden_norm > 0.0);
    }
    CHECK(sum(abs(g[3])).item<double>() > 0.0);
  }
}

TEST_CASE("match-free: padded GTs change nothing") {
  Case c8(8), c16(16);
  auto run = [](const Case& c) {
    return value_and_grad<0, 1, 2>([&](const Tree& probe, const array& lg, const array& bx) {
      DecoderOutputs o = c.out;
      o.logits[0] = lg;
      o.boxes[1] = bx;
      return matchfree_criterion(probe, o, c.targets, MatchFreeConfig{}).loss;
    })(c.probe, c.out.logits[0], c.out.boxes[1]);
  };
  auto [v8, g8] = run(c8);
  auto [v16, g16] = run(c16);
  CHECK(v8.item<double>() == Approx(v16.item<double>()).epsilon(1e-12));
  for (auto& [path, leaf] : std::get<0>(g8).flatten()) {
    INFO(path);
    CHECK(allclose(leaf, std::get<0>(g16).at(path), 1e-10, 1e-13));
  }
  CHECK(allclose(std::get<1>(g8), std::get<1>(g16), 1e-10, 1e-13));
  CHECK(allclose(std::get<2>(g8), std::get<2>(g16), 1e-10, 1e-13));
}

TEST_CASE("match-free: an image without GTs has only negatives") {
  Case c;
  Targets none = c.targets;
  none.mask = zeros({kB, 8}, bool_);
  LossResult r = matchfree_criterion(c.probe, c.out, none, MatchFreeConfig{});
  double expect = 0;
  for (int l = 0; l < 2; ++l) {
    const std::string s = std::to_string(l);
    CHECK(r.components.at("L_w_" + s).item<double>() == 0.0);
    test::check_all_zero(r.components.at("selected_per_gt_" + s));
    expect += 2 * sum(focal_negative(c.out.logits[l], 0.25, 2)).item<double>();  // num_boxes 1
  }
  CHECK(r.loss.item<double>() == Approx(expect).epsilon(1e-12));
  // Mixed batch: image 1 without GTs adds exactly its negative focal sum.
  Targets mixed = c.targets;
  mixed.mask = logical_and(c.targets.mask, array({true, false}, Shape{2, 1}));
  const StepInputs two{.num_boxes = 2.0};
  DecoderOutputs one{{c.out.logits[0]}, {c.out.boxes[0]}, {c.out.hidden[0]}};
  auto img = [](const array& x, int64_t b) { return slice_axis(x, 0, b, b + 1); };
  DecoderOutputs first{
      {img(c.out.logits[0], 0)}, {img(c.out.boxes[0], 0)}, {img(c.out.hidden[0], 0)}};
  Targets t0{img(mixed.labels, 0), img(mixed.boxes, 0), img(mixed.mask, 0)};
  const double neg1 = sum(focal_negative(img(c.out.logits[0], 1), 0.25, 2)).item<double>();
  CHECK(matchfree_criterion(c.probe, one, mixed, {}, two).loss.item<double>() ==
        Approx(matchfree_criterion(c.probe, first, t0, {}, two).loss.item<double>() + 2 * neg1 / 2)
            .epsilon(1e-12));
}

TEST_CASE("matchfree_criterion rejects bad inputs") {
  Case c;
  DecoderOutputs no_hidden = c.out;
  no_hidden.hidden.pop_back();
  check_throws_with([&] { matchfree_criterion(c.probe, no_hidden, c.targets, {}); },
                    {"[matchfree_criterion]", "2 logits", "1 hidden"});
  DecoderOutputs bad_hidden = c.out;
  bad_hidden.hidden[1] = slice_axis(c.out.hidden[1], 1, 0, 3);
  check_throws_with([&] { matchfree_criterion(c.probe, bad_hidden, c.targets, {}); },
                    {"[matchfree_criterion]", "hidden (layer 1)", "(2,3,4)"});
  StepInputs in;
  in.fixed_assignment = std::vector<array>{zeros({kB, 8, kN}, float64)};
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, {}, in); },
                    {"[matchfree_criterion]", "fixed_assignment", "1 entries", "2"});
  in.fixed_assignment = std::vector<array>{zeros({kB, 8, kN}), zeros({kB, 4, kN})};
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, {}, in); },
                    {"[matchfree_criterion]", "layer 1", "(2,8,5)", "(2,4,5)"});
  DecoderOutputs bad_k = c.out;
  bad_k.logits[0] = concatenate({c.out.logits[0], c.out.logits[0]}, 2);
  check_throws_with([&] { matchfree_criterion(c.probe, bad_k, c.targets, {}); },
                    {"[matchfree_criterion]", "layer 1", "(2,5,6)"});
  MatchFreeConfig bad_rho;
  bad_rho.rho = 1.5;
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, bad_rho); },
                    {"[matchfree_criterion]", "rho", "1.5"});
  bad_rho.rho = 0.0;
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, bad_rho); },
                    {"[matchfree_criterion]", "rho"});
  MatchFreeConfig bad_weight;
  bad_weight.alpha_w = -1;
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, bad_weight); },
                    {"[matchfree_criterion]", "alpha_w", "-1"});
  const StepInputs nb{.num_boxes_value = array({1.0, 2.0}, Shape{2}, float64)};
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, {}, nb); },
                    {"[matchfree_criterion]", "num_boxes_value", "scalar", "(2)"});
  check_throws_with([&] { hungarian_criterion(c.out, c.targets, {}, nb); },
                    {"[hungarian_criterion]", "num_boxes_value", "scalar", "(2)"});
}

TEST_CASE("match-free in float32 agrees with float64") {
  Case c;
  DecoderOutputs o32;
  for (int l = 0; l < 2; ++l) {
    o32.logits.push_back(astype(c.out.logits[l], float32));
    o32.boxes.push_back(astype(c.out.boxes[l], float32));
    o32.hidden.push_back(astype(c.out.hidden[l], float32));
  }
  Targets t32{c.targets.labels, astype(c.targets.boxes, float32), c.targets.mask};
  Tree p32 = c.probe.map([](const array& x) { return astype(x, float32); });
  array l32 = matchfree_criterion(p32, o32, t32, MatchFreeConfig{}).loss;
  CHECK(l32.dtype() == float32);
  CHECK(
      l32.item<double>() ==
      Approx(matchfree_criterion(c.probe, c.out, c.targets, MatchFreeConfig{}).loss.item<double>())
          .epsilon(1e-4));
  check_throws_with([&] { matchfree_criterion(c.probe, c.out, c.targets, {}, {.num_boxes = 0.0}); },
                    {"[matchfree_criterion]", "num_boxes", "positive"});
  check_throws_with([&] { hungarian_criterion(c.out, c.targets, {}, {.num_boxes = -1.0}); },
                    {"[hungarian_criterion]", "num_boxes"});
  check_throws_with(
      [&] { hungarian_criterion(c.out, c.targets, {}, {.num_boxes_value = array(0.0)}); },
      {"[hungarian_criterion]", "num_boxes", "positive"});
}
