// Match-free variants (extensions beyond the paper): cosine probe logits,
// the Sinkhorn attention, the greedy selection, their gradients, their
// names and checks, and the collapse metrics.
#include <cmath>
#include <limits>
#include <set>

#include "grad_check.h"
#include "mfx/criteria/collapse_metrics.h"
#include "mfx/criteria/criteria.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::criteria;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::rand_like;
using mfx::test::values;
using Cfg = MatchFreeConfig;

namespace {

constexpr int64_t kB = 2, kN = 6, kK = 3, kD = 4, kWidth = 8, kM = 8;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Two decoder layers in float64; image 0 has 3 GTs, image 1 has 2, padded to kM.
struct Problem {
  DecoderOutputs out;
  Targets targets;
  Tree probe;

  Problem() {
    for (uint64_t l = 0; l < 2; ++l) {
      out.logits.push_back(1.5 * rand_like({kB, kN, kK}, 50 + 7 * l));
      array u = rand_like({kB, kN, 4}, 51 + 7 * l);
      out.boxes.push_back(concatenate(
          {0.5 + 0.25 * slice_axis(u, 2, 0, 2), 0.3 + 0.1 * slice_axis(u, 2, 2, 4)}, 2));
      out.hidden.push_back(rand_like({kB, kN, kD}, 52 + 7 * l));
    }
    targets = pad_targets(
        {array({0, 2, 1}, Shape{3}, int32), array({1, 1}, Shape{2}, int32)},
        {array({0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.2, 0.5, 0.5, 0.4, 0.4}, Shape{3, 4}, float64),
         array({0.4, 0.6, 0.3, 0.3, 0.6, 0.4, 0.2, 0.3}, Shape{2, 4}, float64)},
        kM);
    probe = init_probe(random::key(7), kK, kD, kWidth, float64);
  }
};

Cfg variant(Cfg::ProbeLogits logits, Cfg::Attention attention, Cfg::Selection selection) {
  Cfg c;
  c.probe_logits = logits;
  c.attention = attention;
  c.selection = selection;
  return c;
}

// The variants worth checking: each cure alone and all together.
std::vector<Cfg> variants() {
  using L = Cfg::ProbeLogits;
  using A = Cfg::Attention;
  using S = Cfg::Selection;
  return {variant(L::Cosine, A::Softmax, S::Threshold),
          variant(L::Scaled, A::Sinkhorn, S::Threshold), variant(L::Scaled, A::Softmax, S::Greedy),
          variant(L::Cosine, A::Sinkhorn, S::Greedy)};
}

// Row sums [B, M] and column sums [B, N] of a [B, M, N] array.
std::vector<double> row_sums(const array& a) {
  return values(sum(a, -1));
}
std::vector<double> col_sums(const array& a) {
  return values(sum(a, -2));
}

// Argmax of each row of a [M, N] slice, for the listed rows.
std::vector<int64_t> row_argmax(const array& a, int64_t b, int64_t rows) {
  auto idx = values(argmax(a, -1));
  std::vector<int64_t> r;
  for (int64_t i = 0; i < rows; ++i) r.push_back(static_cast<int64_t>(idx[b * a.shape(1) + i]));
  return r;
}

// Â of layer l as the criterion derives it for `cfg` (greedy on log A from
// the same log-space computation, threshold on A).
array a_hat_of(const Problem& p, int l, const Cfg& cfg) {
  array logits =
      probe_logits(p.probe, p.out.logits[l], p.out.boxes[l], p.out.hidden[l], p.targets, cfg);
  if (cfg.selection == Cfg::Selection::Greedy) {
    array log_a = cfg.attention == Cfg::Attention::Sinkhorn
                      ? sinkhorn_log_attention(logits, p.targets.mask, cfg.sinkhorn_iters)
                      : log_softmax(logits, -1);
    return greedy_selection(log_a, p.targets.mask);
  }
  array a =
      probe_attention(p.probe, p.out.logits[l], p.out.boxes[l], p.out.hidden[l], p.targets, cfg);
  return sparse_correspondence(a, cfg.rho, cfg.eps, cfg.norm);
}

}  // namespace

TEST_CASE("Sinkhorn attention: real rows sum to 1, columns to <= 1, padded rows are 0") {
  // Three images: 3 real GTs (not a prefix), 4 real GTs, none.
  array mask = array({true, false, true, true, false,  //
                      true, true, true, true, false,   //
                      false, false, false, false, false},
                     Shape{3, 5});
  // Sharper logits need more rounds for the columns to settle (at scale 4,
  // 30 rounds leave column sums of 1 + 3e-6).
  for (auto [scale, iters] : {std::pair{1.0, 30}, std::pair{4.0, 200}}) {
    INFO("logit scale " << scale << ", " << iters << " rounds");
    array logits = scale * rand_like({3, 5, 7}, 3);
    array a = exp(sinkhorn_log_attention(logits, mask, iters));
    REQUIRE(a.dtype() == float64);
    auto rows = row_sums(a), cols = col_sums(a);
    auto m = values(mask);
    for (size_t r = 0; r < rows.size(); ++r) {
      INFO("row " << r);
      CHECK(std::abs(rows[r] - (m[r] != 0 ? 1.0 : 0.0)) <= 1e-6);
    }
    for (size_t c = 0; c < cols.size(); ++c) {
      INFO("column " << c);
      CHECK(cols[c] <= 1.0 + 1e-6);
    }
    // Padded rows are exactly 0 (log A = -inf), the empty image too.
    auto av = values(a);
    for (int64_t b = 0; b < 3; ++b) {
      for (int64_t i = 0; i < 5; ++i) {
        if (m[b * 5 + i] != 0) continue;
        for (int64_t j = 0; j < 7; ++j) CHECK(av[(b * 5 + i) * 7 + j] == 0.0);
      }
    }
  }
  // Differentiable, with finite gradients even for the image without GTs.
  array logits = rand_like({3, 5, 7}, 4);
  array w = rand_like({3, 5, 7}, 5);
  auto f = [&](const std::vector<array>& in) {
    return sum(where(expand_dims(mask, -1), exp(sinkhorn_log_attention(in[0], mask, 10)), 0.0) * w);
  };
  test::check_fn_grads(f, {logits});
  auto g = grad([&](const array& x) { return f({x}); })(logits);
  CHECK(all(isfinite(g)).item<bool>());
  check_throws_with([&] { sinkhorn_log_attention(logits, mask, 0); },
                    {"[sinkhorn_log_attention]", "iters", "0"});
  check_throws_with(
      [&] {
        sinkhorn_log_attention(logits, ones({3, 4}, bool_), 3);
      },
      {"[sinkhorn_log_attention]", "mask", "(3,5)", "(3,4)"});
}

TEST_CASE("when every GT prefers one query, Sinkhorn and greedy give distinct queries") {
  // Three GTs, all with logit about 5 on query 0 (GT 2 the keenest); GT i's
  // second choice is query i + 1.
  std::vector<double> v(1 * 4 * 6, 0.0);
  for (int i = 0; i < 3; ++i) {
    v[i * 6 + 0] = 5.0 + 0.1 * i;
    v[i * 6 + i + 1] = 3.0;
  }
  array logits(v, {1, 4, 6}, float64);
  array mask = array({true, true, true, false}, Shape{1, 4});
  // The paper's softmax: every GT on query 0, rows nearly one-hot.
  array soft = where(expand_dims(mask, -1), softmax(logits, -1), 0.0);
  CHECK(row_argmax(soft, 0, 3) == std::vector<int64_t>{0, 0, 0});
  // Sinkhorn: query 0 has room for one GT, each GT moves to its own.
  array sink = exp(sinkhorn_log_attention(logits, mask, 30));
  auto sink_choice = row_argmax(sink, 0, 3);
  CHECK(std::set<int64_t>(sink_choice.begin(), sink_choice.end()).size() == 3);
  CHECK(col_sums(sink)[0] <= 1.0 + 1e-6);
  // Greedy, on the collapsed softmax's log A and on the logits: one query
  // each, never shared.
  for (const array& scores : {log_softmax(logits, -1), logits}) {
    array sel = greedy_selection(scores, mask);
    check_close(sum(sel, -1), {1, 1, 1, 0}, {1, 4});
    for (double c : col_sums(sel)) CHECK(c <= 1.0);
    // GT 2 takes query 0, the others their second choices.
    check_close(sel, {0, 1, 0, 0, 0, 0,  //
                      0, 0, 1, 0, 0, 0,  //
                      1, 0, 0, 0, 0, 0,  //
                      0, 0, 0, 0, 0, 0},
                {1, 4, 6}, 0, 0);
  }
  // The collapse metrics see the difference.
  array cls = zeros({1, 6, 2}, float64);
  CHECK(collapse_metrics(collapse_counts(soft, mask, cls)).shared_query_fraction == 1.0);
  CHECK(collapse_metrics(collapse_counts(sink, mask, cls)).shared_query_fraction == 0.0);
}

TEST_CASE("greedy_selection on hand-made scores") {
  // Image 0: (1, 0) = 6 first, then row 0 takes query 1; row 2 is padding.
  // Image 1: three real GTs, but the third query is forbidden (-inf) for all,
  // so the GT left after two rounds gets nothing. Image 2: no GT.
  array scores = array({5.0, 4.0, 0.0,   6.0, 1.0, 0.0,   9.0, 9.0, 9.0,    //
                        1.0, 2.0, -kInf, 3.0, 0.5, -kInf, 0.0, 2.5, -kInf,  //
                        1.0, 2.0, 3.0,   4.0, 5.0, 6.0,   7.0, 8.0, 9.0},
                       Shape{3, 3, 3}, float64);
  array mask = array({true, true, false, true, true, true, false, false, false}, Shape{3, 3});
  check_close(greedy_selection(scores, mask), {0, 1, 0, 1, 0, 0, 0, 0, 0,  //
                                               0, 0, 0, 1, 0, 0, 0, 1, 0,  //
                                               0, 0, 0, 0, 0, 0, 0, 0, 0},
              {3, 3, 3}, 0, 0);
  // Exact ties go to the lowest flat index (GT-major).
  check_close(greedy_selection(zeros({1, 2, 2}, float64), ones({1, 2}, bool_)), {1, 0, 0, 1},
              {1, 2, 2}, 0, 0);
  // A constant: no gradient.
  auto g = grad([&](const array& x) { return sum(greedy_selection(x, mask) * x); })(scores);
  check_close(g, values(greedy_selection(scores, mask)), {3, 3, 3}, 0, 0);
  // In float32 too, and on empty shapes.
  CHECK(array_equal(greedy_selection(astype(scores, float32), mask),
                    astype(greedy_selection(scores, mask), float32)));
  CHECK(greedy_selection(zeros({2, 0, 4}), zeros({2, 0}, bool_)).shape() == Shape{2, 0, 4});
  check_throws_with(
      [&] {
        greedy_selection(scores, ones({3, 2}, bool_));
      },
      {"[greedy_selection]", "mask", "(3,3)", "(3,2)"});
}

TEST_CASE("cosine probe logits are bounded by the scale and ignore the probe's scale") {
  Problem p;
  for (double s : {10.0, 2.5}) {
    INFO("cosine_scale " << s);
    Cfg cfg = variant(Cfg::ProbeLogits::Cosine, Cfg::Attention::Softmax, Cfg::Selection::Threshold);
    cfg.cosine_scale = s;
    array z =
        probe_logits(p.probe, p.out.logits[0], p.out.boxes[0], p.out.hidden[0], p.targets, cfg);
    REQUIRE(z.shape() == Shape{kB, kM, kN});
    const double peak = max(abs(z)).item<double>();
    CHECK(peak <= s);
    CHECK(peak > 0.1 * s);  // not degenerate
    // W_Q and W_K 100 times larger: the scaled logits grow 10^4 times, the
    // cosine ones do not move.
    Tree big = p.probe;
    big["w_q"] = Tree(100.0 * p.probe.at("w_q"));
    big["w_k"] = Tree(100.0 * p.probe.at("w_k"));
    array zb = probe_logits(big, p.out.logits[0], p.out.boxes[0], p.out.hidden[0], p.targets, cfg);
    CHECK(allclose(zb, z, 1e-9, 1e-9));
    Cfg scaled;
    array s0 =
        probe_logits(p.probe, p.out.logits[0], p.out.boxes[0], p.out.hidden[0], p.targets, scaled);
    array s1 =
        probe_logits(big, p.out.logits[0], p.out.boxes[0], p.out.hidden[0], p.targets, scaled);
    CHECK(allclose(s1, 1e4 * s0, 1e-9, 1e-9));
  }
  // float32 stays within the bound (up to one rounding of the scale).
  Tree p32 = p.probe.map([](const array& x) { return astype(x, float32); });
  Cfg cfg = variant(Cfg::ProbeLogits::Cosine, Cfg::Attention::Softmax, Cfg::Selection::Threshold);
  array z32 = probe_logits(
      p32, astype(p.out.logits[0], float32), astype(p.out.boxes[0], float32),
      astype(p.out.hidden[0], float32),
      Targets{p.targets.labels, astype(p.targets.boxes, float32), p.targets.mask}, cfg);
  CHECK(z32.dtype() == float32);
  CHECK(max(abs(z32)).item<double>() <= 10.0 * (1 + 1e-6));
}

TEST_CASE("the default probe path is unchanged by the variant plumbing") {
  Problem p;
  for (bool stop : {true, false}) {
    Cfg cfg;
    cfg.probe_inputs_stop_gradient = stop;
    array a =
        probe_attention(p.probe, p.out.logits[1], p.out.boxes[1], p.out.hidden[1], p.targets, stop);
    array b =
        probe_attention(p.probe, p.out.logits[1], p.out.boxes[1], p.out.hidden[1], p.targets, cfg);
    CHECK(array_equal(a, b));
    // The default logits are (E_gt W_Q)(E_q W_K)^T / sqrt(width): their softmax is A.
    array z =
        probe_logits(p.probe, p.out.logits[1], p.out.boxes[1], p.out.hidden[1], p.targets, cfg);
    array soft = where(expand_dims(p.targets.mask, -1), softmax(z, -1), 0.0);
    CHECK(allclose(soft, a, 1e-13, 1e-15));
  }
}

TEST_CASE("match-free variants: Â is one-hot per real GT under greedy, A as specified") {
  Problem p;
  for (const Cfg& cfg : variants()) {
    INFO("variant " << matchfree_variant(cfg));
    LossResult r = matchfree_criterion(p.probe, p.out, p.targets, cfg);
    CHECK(std::isfinite(r.loss.item<double>()));
    for (int l = 0; l < 2; ++l) {
      INFO("layer " << l);
      const std::string s = std::to_string(l);
      array a = probe_attention(p.probe, p.out.logits[l], p.out.boxes[l], p.out.hidden[l],
                                p.targets, cfg);
      auto rows = row_sums(a), m = values(p.targets.mask);
      for (size_t i = 0; i < rows.size(); ++i) {
        CHECK(std::abs(rows[i] - (m[i] != 0 ? 1.0 : 0.0)) <= 1e-9);
      }
      // L_w = sum(A C) / num_boxes (5 real GTs) for every variant.
      array cost = matching_cost(p.out.logits[l], p.out.boxes[l], p.targets, cfg.cost);
      CHECK(r.components.at("L_w_" + s).item<double>() ==
            Approx(sum(a * cost).item<double>() / 5).epsilon(1e-12));
      array ah = a_hat_of(p, l, cfg);
      check_close(r.components.at("selected_per_gt_" + s), values(sum(ah > 0.0, -1)), {kB, kM}, 0,
                  0);
      if (cfg.selection == Cfg::Selection::Greedy) {
        // One query per real GT (M real <= N), none shared, entries exactly 1.
        check_close(r.components.at("selected_per_gt_" + s), values(astype(p.targets.mask, int32)),
                    {kB, kM}, 0, 0);
        for (double c : col_sums(ah)) CHECK(c <= 1.0);
        for (double x : values(ah)) CHECK((x == 0.0 || x == 1.0));
      }
      // The criterion uses that Â: giving it as fixed_assignment changes nothing.
      const StepInputs fixed{.fixed_assignment =
                                 std::vector<array>{a_hat_of(p, 0, cfg), a_hat_of(p, 1, cfg)}};
      CHECK(matchfree_criterion(p.probe, p.out, p.targets, cfg, fixed)
                .components.at("L_q_" + s)
                .item<double>() ==
            Approx(r.components.at("L_q_" + s).item<double>()).epsilon(1e-12));
    }
  }
}

TEST_CASE("match-free variants: L_q with a one-hot assignment equals the Hungarian loss") {
  // The invariant of the paper's loss holds for every variant: A's variant
  // only changes L_w, and a fixed one-hot Â gives the Hungarian L_q.
  auto fx = load_safetensors(std::string(MFX_TEST_DATA_DIR) + "/criteria_fixtures.safetensors");
  Targets t{astype(fx.at("gt_labels"), int32), fx.at("gt_boxes"), astype(fx.at("gt_mask"), bool_)};
  DecoderOutputs out;
  std::vector<array> fixed;
  for (int l = 0; l < 2; ++l) {
    out.logits.push_back(fx.at("logits_" + std::to_string(l)));
    out.boxes.push_back(fx.at("boxes_" + std::to_string(l)));
    out.hidden.push_back(rand_like({2, 6, kD}, 9 + l));
    auto m = hungarian_match(out.logits[l], out.boxes[l], t, {});
    std::vector<double> v(2 * 3 * 6, 0.0);
    for (size_t b = 0; b < m.size(); ++b) {
      for (size_t q = 0; q < m[b].gts.size(); ++q)
        v[(b * 3 + m[b].gts[q]) * 6 + m[b].queries[q]] = 1;
    }
    fixed.emplace_back(v, Shape{2, 3, 6}, float64);
  }
  Tree probe = init_probe(random::key(4), 5, kD, kWidth, float64);
  LossResult h = hungarian_criterion(out, t, HungarianConfig{});
  for (Cfg cfg : variants()) {
    INFO("variant " << matchfree_variant(cfg));
    LossResult mf = matchfree_criterion(probe, out, t, cfg, {.fixed_assignment = fixed});
    for (int l = 0; l < 2; ++l) {
      const std::string s = std::to_string(l);
      const double hq = 2 * h.components.at("loss_ce_" + s).item<double>() +
                        5 * h.components.at("loss_bbox_" + s).item<double>() +
                        2 * h.components.at("loss_giou_" + s).item<double>();
      CHECK(mf.components.at("L_q_" + s).item<double>() == Approx(hq).epsilon(1e-12));
    }
  }
}

TEST_CASE("match-free variants: gradients match central differences (float64)") {
  // As for the paper's loss: Â and C are constants, so the reference is L_q
  // with Â frozen plus sum(A C0) / num_boxes, A differentiated through the
  // variant's logits and attention (Sinkhorn rounds included).
  Problem p;
  const std::vector<array> probe_leaves = p.probe.leaves();
  std::vector<array> inputs{p.out.logits[0], p.out.boxes[0], p.out.hidden[0]};
  inputs.insert(inputs.end(), probe_leaves.begin(), probe_leaves.end());
  std::vector<array> c0;
  for (int l = 0; l < 2; ++l)
    c0.push_back(matching_cost(p.out.logits[l], p.out.boxes[l], p.targets, {}));
  for (Cfg cfg : variants()) {
    INFO("variant " << matchfree_variant(cfg));
    cfg.probe_inputs_stop_gradient = false;
    cfg.sinkhorn_iters = 10;
    auto make = [&](const Cfg& conf, const StepInputs& step = {}) {
      return [&, conf, step](const std::vector<array>& in) {
        DecoderOutputs o{
            {in[0], p.out.logits[1]}, {in[1], p.out.boxes[1]}, {in[2], p.out.hidden[1]}};
        Tree probe = p.probe.unflatten(std::vector<array>(in.begin() + 3, in.end()));
        return matchfree_criterion(probe, o, p.targets, conf, step).loss;
      };
    };
    Cfg frozen_q = cfg;
    frozen_q.alpha_w = 0;
    auto lq = make(frozen_q, {.fixed_assignment =
                                  std::vector<array>{a_hat_of(p, 0, cfg), a_hat_of(p, 1, cfg)}});
    auto ref = [&, lq, cfg](const std::vector<array>& in) {
      Tree probe = p.probe.unflatten(std::vector<array>(in.begin() + 3, in.end()));
      array a0 = probe_attention(probe, in[0], in[1], in[2], p.targets, cfg);
      array a1 =
          probe_attention(probe, p.out.logits[1], p.out.boxes[1], p.out.hidden[1], p.targets, cfg);
      return lq(in) + (sum(a0 * c0[0]) + sum(a1 * c0[1])) / 5.0;  // 5 real GTs
    };
    CHECK(ref(inputs).item<double>() == Approx(make(cfg)(inputs).item<double>()).epsilon(1e-12));
    test::check_fn_grads(ref, inputs);
    auto vjp_of = [&](const std::function<array(const std::vector<array>&)>& f) {
      return vjp([&](const std::vector<array>& in) { return std::vector<array>{f(in)}; }, inputs,
                 std::vector<array>{array(1.0)})
          .second;
    };
    auto g = vjp_of(make(cfg)), gr = vjp_of(ref);
    for (size_t i = 0; i < inputs.size(); ++i) {
      INFO("input " << i);
      CHECK(allclose(g[i], gr[i], 1e-10, 1e-13));
    }
    CHECK(sum(abs(g[3])).item<double>() > 0.0);  // the probe is trained
  }
}

TEST_CASE("match-free variant settings: names, descriptions and errors") {
  CHECK(std::string(to_string(Cfg::ProbeLogits::Cosine)) == "cosine");
  CHECK(std::string(to_string(Cfg::Attention::Sinkhorn)) == "sinkhorn");
  CHECK(std::string(to_string(Cfg::Selection::Greedy)) == "greedy");
  CHECK(std::string(to_string(Cfg::Norm::Max)) == "max");
  CHECK(parse_probe_logits("scaled") == Cfg::ProbeLogits::Scaled);
  CHECK(parse_attention("sinkhorn") == Cfg::Attention::Sinkhorn);
  CHECK(parse_selection("threshold") == Cfg::Selection::Threshold);
  CHECK(parse_norm("none") == Cfg::Norm::None);
  check_throws_with([] { parse_probe_logits("dot", "--probe-logits"); },
                    {"--probe-logits", "'scaled'", "'cosine'", "'dot'"});
  check_throws_with([] { parse_attention("Softmax"); }, {"attention", "'softmax'", "'Softmax'"});
  check_throws_with([] { parse_selection(""); }, {"selection", "'greedy'"});

  CHECK(matchfree_variant(Cfg{}) == "paper (scaled logits, softmax, threshold rho=0.5)");
  Cfg all = variant(Cfg::ProbeLogits::Cosine, Cfg::Attention::Sinkhorn, Cfg::Selection::Greedy);
  CHECK(matchfree_variant(all) == "cosine(s=10) sinkhorn(T=30) greedy");

  Problem p;
  auto rejects = [&](const Cfg& cfg, const std::vector<std::string>& parts) {
    check_throws_with([&] { matchfree_criterion(p.probe, p.out, p.targets, cfg); }, parts);
  };
  Cfg bad = all;
  bad.cosine_scale = 0;
  rejects(bad, {"[matchfree_criterion]", "cosine_scale", "0"});
  bad.cosine_scale = std::nan("");
  rejects(bad, {"[matchfree_criterion]", "cosine_scale", "nan"});
  bad = all;
  bad.sinkhorn_iters = 0;
  rejects(bad, {"[matchfree_criterion]", "sinkhorn_iters", "0"});
  bad = all;
  bad.attention = static_cast<Cfg::Attention>(7);
  rejects(bad, {"[matchfree_criterion]", "attention", "7"});
  bad = all;
  bad.selection = static_cast<Cfg::Selection>(-1);
  rejects(bad, {"[matchfree_criterion]", "selection", "-1"});
  check_throws_with(
      [&] {
        probe_logits(p.probe, p.out.logits[0], p.out.boxes[0], p.out.hidden[0], p.targets, [] {
          Cfg c;
          c.cosine_scale = -2;
          return c;
        }());
      },
      {"[probe_logits]", "cosine_scale", "-2"});
}

TEST_CASE("collapse metrics on a hand-built batch") {
  // Image 0: GTs 0 and 1 both pick query 1 (GT 0 saturated), GT 2 picks
  // query 2. Image 1: GTs pick queries 0 and 3 (GT 1 saturated); its third
  // row is padding (a one-hot row, which must not count).
  array a = array({0.001, 0.995, 0.002, 0.002,  //
                   0.2,   0.6,   0.1,   0.1,    //
                   0.2,   0.1,   0.5,   0.2,    //
                   0.7,   0.1,   0.1,   0.1,    //
                   0.0,   0.001, 0.0,   0.999,  //
                   1.0,   0.0,   0.0,   0.0},
                  Shape{2, 3, 4}, float64);
  array mask = array({true, true, true, true, true, false}, Shape{2, 3});
  // Top-scoring query (highest class logit): query 2 in both images.
  array cls = array({0.0, 0.1, 0.2, -1.0, 3.0, 0.5, 0.0, 0.0,  //
                     0.0, 0.1, 0.2, 0.3, 0.9, 0.1, 0.0, 0.0},
                    Shape{2, 4, 2}, float64);
  CollapseCounts c = collapse_counts(a, mask, cls);
  CHECK(c.gts == 5);
  CHECK(c.shared_gts == 2);
  CHECK(c.distinct_queries == 4);
  CHECK(c.saturated_rows == 2);
  CHECK(c.top_queries == std::vector<int64_t>{2, 2});
  CollapseMetrics m = collapse_metrics(c);
  CHECK(m.shared_query_fraction == Approx(0.4));
  CHECK(m.distinct_queries_per_gt == Approx(0.8));
  CHECK(m.saturated_row_fraction == Approx(0.4));
  CHECK(m.top_query_mode_fraction == 1.0);
  // A second batch of one image whose top query is 0: 2 of 3 images share the mode.
  array a1 = array({0.5, 0.5}, Shape{1, 1, 2}, float32);
  CollapseCounts more =
      collapse_counts(a1, array({true}, Shape{1, 1}), array({4.0f, 1.0f}, Shape{1, 2, 1}, float32));
  c += more;
  m = collapse_metrics(c);
  CHECK(m.top_query_mode_fraction == Approx(2.0 / 3.0));
  CHECK(m.shared_query_fraction == Approx(2.0 / 6.0));
  CHECK(m.distinct_queries_per_gt == Approx(5.0 / 6.0));
  // Nothing seen: NaN, not a made-up 0.
  CollapseMetrics none = collapse_metrics(CollapseCounts{});
  CHECK(std::isnan(none.shared_query_fraction));
  CHECK(std::isnan(none.top_query_mode_fraction));
  check_throws_with(
      [&] {
        collapse_counts(a, array({true, true}, Shape{1, 2}), cls);
      },
      {"[collapse_counts]", "mask", "(2,3)"});
  check_throws_with(
      [&] {
        collapse_counts(a, mask, zeros({2, 5, 2}, float64));
      },
      {"[collapse_counts]", "class_logits", "(2,5,2)"});
}
