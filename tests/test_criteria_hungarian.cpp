// The Hungarian baseline against numpy/scipy reference values
// (tests/fixtures/gen_criteria_fixtures.py) and its edge cases.
#include <map>

#include "grad_check.h"
#include "mfx/criteria/criteria.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::criteria;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

struct Fixture {
  std::map<std::string, array> fx;
  Targets targets;
  DecoderOutputs out;

  explicit Fixture(Dtype dt = float64) {
    fx = load_safetensors(mfx::test::data_path("criteria_fixtures.safetensors"));
    targets = Targets{astype(fx.at("gt_labels"), int32), astype(fx.at("gt_boxes"), dt),
                      astype(fx.at("gt_mask"), bool_)};
    for (int l = 0; l < 2; ++l) {
      out.logits.push_back(astype(fx.at("logits_" + std::to_string(l)), dt));
      out.boxes.push_back(astype(fx.at("boxes_" + std::to_string(l)), dt));
    }
  }
  double scalar(const std::string& name) const { return fx.at(name).item<double>(); }
};

// Targets padded with `extra` more (garbage) rows.
Targets pad_more(const Targets& t, int64_t extra) {
  const int64_t B = t.labels.shape(0);
  return Targets{concatenate({t.labels, full({B, extra}, array(7), int32)}, 1),
                 concatenate({t.boxes, full({B, extra, 4}, array(0.0), t.boxes.dtype())}, 1),
                 concatenate({t.mask, zeros({B, extra}, bool_)}, 1)};
}

}  // namespace

TEST_CASE("matching cost and assignment match the reference") {
  Fixture f;
  for (int l = 0; l < 2; ++l) {
    const std::string s = std::to_string(l);
    INFO("layer " << l);
    array c = matching_cost(f.out.logits[l], f.out.boxes[l], f.targets, CostWeights{});
    check_close(c, test::values(f.fx.at("cost_" + s)), {2, 3, 6}, 1e-9, 1e-9);
    auto m = hungarian_match(f.out.logits[l], f.out.boxes[l], f.targets, CostWeights{});
    auto expect = f.fx.at("match_" + s).to_vector<int64_t>();
    REQUIRE(m.size() == 2);
    for (int64_t b = 0; b < 2; ++b) {
      std::vector<int64_t> got(3, -1);
      for (size_t p = 0; p < m[b].gts.size(); ++p) got[m[b].gts[p]] = m[b].queries[p];
      for (int64_t g = 0; g < 3; ++g) CHECK(got[g] == expect[b * 3 + g]);
    }
  }
}

TEST_CASE("hungarian_criterion equals the reference SetCriterion") {
  for (Dtype dt : {float64, float32}) {
    INFO("dtype " << dtype_name(dt));
    const double tol = dt == float64 ? 1e-6 : 1e-4;
    Fixture f(dt);
    LossResult r = hungarian_criterion(f.out, f.targets, HungarianConfig{});
    CHECK(r.loss.dtype() == dt);
    CHECK(r.loss.item<double>() == Approx(f.scalar("loss")).epsilon(tol));
    for (const char* name :
         {"loss_ce_0", "loss_bbox_0", "loss_giou_0", "loss_ce_1", "loss_bbox_1", "loss_giou_1"}) {
      INFO(name);
      CHECK(r.components.at(name).item<double>() == Approx(f.scalar(name)).epsilon(tol));
    }
  }
}

TEST_CASE("hungarian_criterion: weights, num_boxes and padding") {
  Fixture f;
  HungarianConfig cfg;
  cfg.w_ce = 1;
  cfg.w_bbox = 0;
  cfg.w_giou = 3;
  // The fixture divides by num_boxes = 5.
  double expect = 0;
  for (int l = 0; l < 2; ++l) {
    const std::string s = std::to_string(l);
    expect += (f.scalar("loss_ce_" + s) + 3 * f.scalar("loss_giou_" + s)) * 5.0 / 10.0;
  }
  CHECK(hungarian_criterion(f.out, f.targets, cfg, {.num_boxes = 10.0}).loss.item<double>() ==
        Approx(expect).epsilon(1e-9));
  // The count as an array (as a jitted step passes it) is read on the host.
  CHECK(hungarian_criterion(f.out, f.targets, cfg, {.num_boxes_value = array(10.0)})
            .loss.item<double>() == Approx(expect).epsilon(1e-9));

  // Bucket 8 vs 16 (and the fixture's 3): same loss and gradients.
  auto loss_fn = [&](const Targets& t) {
    return [t, out = f.out](const array& logits0, const array& boxes1) {
      DecoderOutputs o = out;
      o.logits[0] = logits0;
      o.boxes[1] = boxes1;
      return hungarian_criterion(o, t, HungarianConfig{}).loss;
    };
  };
  auto [v3, g3] = value_and_grad<0, 1>(loss_fn(f.targets))(f.out.logits[0], f.out.boxes[1]);
  auto [v8, g8] =
      value_and_grad<0, 1>(loss_fn(pad_more(f.targets, 5)))(f.out.logits[0], f.out.boxes[1]);
  auto [v16, g16] =
      value_and_grad<0, 1>(loss_fn(pad_more(f.targets, 13)))(f.out.logits[0], f.out.boxes[1]);
  CHECK(v3.item<double>() == Approx(f.scalar("loss")).epsilon(1e-9));
  CHECK(v8.item<double>() == Approx(v3.item<double>()).epsilon(1e-12));
  CHECK(v16.item<double>() == Approx(v3.item<double>()).epsilon(1e-12));
  CHECK(allclose(std::get<0>(g8), std::get<0>(g3), 1e-12, 1e-14));
  CHECK(allclose(std::get<1>(g8), std::get<1>(g3), 1e-12, 1e-14));
  CHECK(allclose(std::get<0>(g16), std::get<0>(g3), 1e-12, 1e-14));
  CHECK(allclose(std::get<1>(g16), std::get<1>(g3), 1e-12, 1e-14));

  // Real rows need not come first: moving the padding to the front of image 1.
  array perm = array({0, 1, 2, 2, 0, 1}, Shape{2, 3}, int32);
  Targets moved{take_along_axis(f.targets.labels, perm, 1),
                take_along_axis(f.targets.boxes, expand_dims(perm, -1), 1),
                take_along_axis(f.targets.mask, perm, 1)};
  CHECK(test::values(moved.mask) == std::vector<double>{1, 1, 1, 0, 1, 1});
  CHECK(hungarian_criterion(f.out, moved, HungarianConfig{}).loss.item<double>() ==
        Approx(f.scalar("loss")).epsilon(1e-9));
}

TEST_CASE("hungarian_criterion gradients match central differences") {
  Fixture f;
  // One layer at a time keeps the check small; the matching is fixed under
  // the tiny perturbations (no ties in the fixture).
  for (int l = 0; l < 2; ++l) {
    INFO("layer " << l);
    test::check_fn_grads(
        [&](const std::vector<array>& in) {
          DecoderOutputs o{{in[0]}, {in[1]}, {}};
          return hungarian_criterion(o, f.targets, HungarianConfig{}).loss;
        },
        {f.out.logits[l], f.out.boxes[l]});
  }
}

TEST_CASE("hungarian_criterion with images without ground truths") {
  Fixture f;
  // Image 0 keeps its GTs, image 1 has none.
  Targets t = f.targets;
  t.mask = logical_and(t.mask, array({true, false}, Shape{2, 1}));
  DecoderOutputs one{{f.out.logits[0]}, {f.out.boxes[0]}, {}};
  LossResult r = hungarian_criterion(one, t, HungarianConfig{});
  // Per image the focal sum splits; image 1 contributes only negatives.
  Targets t0{slice_axis(t.labels, 0, 0, 1), slice_axis(t.boxes, 0, 0, 1),
             slice_axis(t.mask, 0, 0, 1)};
  DecoderOutputs img0{
      {slice_axis(f.out.logits[0], 0, 0, 1)}, {slice_axis(f.out.boxes[0], 0, 0, 1)}, {}};
  const StepInputs three{.num_boxes = 3.0};
  double neg1 =
      sum(focal_negative(slice_axis(f.out.logits[0], 0, 1, 2), 0.25, 2.0)).item<double>() / 3.0;
  CHECK(r.loss.item<double>() ==
        Approx(hungarian_criterion(img0, t0, {}, three).loss.item<double>() + 2 * neg1)
            .epsilon(1e-12));

  // No GT anywhere: num_boxes is clamped to 1, only the negative focal term.
  Targets none = f.targets;
  none.mask = zeros({2, 3}, bool_);
  LossResult z = hungarian_criterion(one, none, HungarianConfig{});
  double all_neg = sum(focal_negative(f.out.logits[0], 0.25, 2.0)).item<double>();
  CHECK(z.loss.item<double>() == Approx(2 * all_neg).epsilon(1e-12));
  CHECK(z.components.at("loss_bbox_0").item<double>() == 0.0);
  CHECK(z.components.at("loss_giou_0").item<double>() == 0.0);
  auto gb = grad<1>([&](const array& lg, const array& bx) {
    return hungarian_criterion(DecoderOutputs{{lg}, {bx}, {}}, none, HungarianConfig{}).loss;
  })(f.out.logits[0], f.out.boxes[0]);
  test::check_all_zero(std::get<0>(gb));
}

TEST_CASE("hungarian_criterion rejects bad inputs") {
  Fixture f;
  DecoderOutputs missing = f.out;
  missing.boxes.pop_back();
  check_throws_with([&] { hungarian_criterion(missing, f.targets, {}); },
                    {"[hungarian_criterion]", "2 logits", "1 boxes"});
  check_throws_with([&] { hungarian_criterion(DecoderOutputs{}, f.targets, {}); },
                    {"[hungarian_criterion]", "no decoder layers"});
  DecoderOutputs other_n = f.out;
  other_n.logits[1] = slice_axis(other_n.logits[1], 1, 0, 5);
  check_throws_with([&] { hungarian_criterion(other_n, f.targets, {}); },
                    {"[hungarian_criterion]", "layer 1", "(2,6,4)", "(2,5,5)"});
  Targets bad_label = f.targets;
  bad_label.labels = astype(f.fx.at("gt_labels"), int32) + array(5, int32);
  check_throws_with([&] { hungarian_criterion(f.out, bad_label, {}); },
                    {"[hungarian_criterion]", "outside [0, 5)", "(2,6,5)"});
  // More GTs than queries.
  DecoderOutputs two{
      {slice_axis(f.out.logits[0], 1, 0, 2)}, {slice_axis(f.out.boxes[0], 1, 0, 2)}, {}};
  check_throws_with([&] { hungarian_criterion(two, f.targets, {}); },
                    {"[hungarian_match]", "image 0", "(2,2,5)"});
}
