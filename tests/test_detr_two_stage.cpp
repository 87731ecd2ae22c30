// Two-stage Deformable DETR: the encoder's proposals, the queries selected
// from them, their matching-free loss and its place in the detector losses.
#include <cmath>
#include <functional>
#include <iomanip>
#include <string>
#include <vector>

#include "mfx/criteria/criteria.h"
#include "mfx/detr/deformable_detr.h"
#include "test_utils.h"
#include "tiny_transformer.h"

using namespace mfx;
using namespace mfx::detr;
using mfx::test::check_throws_with;
using mfx::test::values;

namespace {

using mfx::test::gen;
using mfx::test::tiny_transformer_inputs;

DeformableDetrConfig tiny_two_stage() {
  DeformableDetrConfig c = mfx::test::tiny_transformer();
  c.two_stage = true;
  return c;
}


// Moves the zero-initialised weights, so every parameter matters.
Tree moved(const Tree& p, Dtype dtype) {
  auto flat = p.flatten();
  for (auto& [path, leaf] : flat) {
    if (path.find("layers.2.weight") != std::string::npos ||
        path.find("attention_weights.weight") != std::string::npos ||
        path.find("sampling_offsets.weight") != std::string::npos) {
      leaf = gen(leaf.shape(), 0.5, 0.01, dtype);
    }
  }
  return Tree::from_flat(flat);
}

criteria::Targets two_targets(Dtype dtype) {
  // Image 0: two boxes; image 1: one box (and a padded row).
  std::vector<array> labels{array(std::vector<int32_t>{1, 3}, {2}),
                            array(std::vector<int32_t>{4}, {1})};
  std::vector<array> boxes{astype(array({0.3, 0.3, 0.4, 0.4, 0.7, 0.6, 0.5, 0.6}, {2, 4}), dtype),
                           astype(array({0.5, 0.5, 0.6, 0.8}, {1, 4}), dtype)};
  return criteria::pad_targets(labels, boxes, 2);
}

}  // namespace

TEST_CASE("two-stage parameters replace the learned queries", "[detr][two_stage]") {
  const auto cfg = tiny_two_stage();
  const Tree p = init_deformable_detr(random::key(1), cfg);
  CHECK(!p.contains("query_embed.weight"));
  CHECK(!p.contains("transformer.reference_points.weight"));
  CHECK(p.at("transformer.pos_trans.weight").shape() == Shape{64, 64});
  CHECK(p.at("enc_class_embed.weight").shape() == Shape{5, 32});
  CHECK(max(abs(p.at("enc_bbox_embed.layers.2.weight"))).item<double>() == 0.0);
  CHECK(max(abs(p.at("bbox_embed.layers.2.bias"))).item<double>() == 0.0);
  auto bad = cfg;
  bad.d_model = 30;
  bad.nheads = 2;
  bad.gn_groups = 2;
  check_throws_with([&] { bad.validate(); }, {"[DeformableDetrConfig]", "two_stage", "30"});
}

TEST_CASE("two-stage queries start at the best valid proposals", "[detr][two_stage]") {
  const auto cfg = tiny_two_stage();
  const Tree p = init_deformable_detr(random::key(2), cfg);
  const auto in = tiny_transformer_inputs();
  const auto out = deformable_detr_forward(p, in.features, in.mask, cfg);
  REQUIRE(out.encoder.has_value());
  const auto& e = *out.encoder;
  // Tokens: 8x8 + 4x4 + 2x2 (the extra stride-2 level).
  const int64_t s = 64 + 16 + 4;
  CHECK(e.logits.shape() == Shape{2, s, 5});
  CHECK(e.boxes.shape() == Shape{2, s, 4});
  CHECK(e.centres.shape() == Shape{2, s, 2});
  CHECK(e.valid.shape() == Shape{2, s});
  // Image 1 is valid on 40 of 64 columns and 48 of 64 rows; with the
  // nearest-downsampled mask that is 5 x 6 tokens of the 8x8 level, 3 x 3 of
  // the 4x4 one and 2 x 2 of the 2x2 one (no centre is near the border).
  const auto valid = values(astype(e.valid, int32));
  double count0 = 0, count1 = 0;
  for (int64_t i = 0; i < s; ++i) {
    count0 += valid[static_cast<size_t>(i)];
    count1 += valid[static_cast<size_t>(s + i)];
  }
  CHECK(count0 == s);
  CHECK(count1 == 5 * 6 + 3 * 3 + 2 * 2);
  // Centres are normalised by the valid size: image 1's first token.
  const auto c = values(e.centres);
  CHECK(c[static_cast<size_t>(2 * s)] == Approx(0.5 / 5));
  CHECK(c[static_cast<size_t>(2 * s + 1)] == Approx(0.5 / 6));
  // At init the box deltas are zero: encoder boxes are the proposals, and
  // every decoder layer's box is its selected proposal.
  const auto eb = values(e.boxes);
  const auto lg = values(max(e.logits, -1));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < s; ++i) {
      const size_t t = static_cast<size_t>(b * s + i);
      if (!valid[t]) continue;
      CHECK(eb[t * 4] == Approx(c[t * 2]).epsilon(1e-5));
      const double side = i < 64 ? 0.05 : (i < 80 ? 0.1 : 0.2);
      CHECK(eb[t * 4 + 2] == Approx(side).epsilon(1e-5));
    }
  }
  for (size_t l = 0; l < out.boxes.size(); ++l) {
    const auto db = values(out.boxes[l]);
    for (int64_t b = 0; b < 2; ++b) {
      // Each query's box is the box of a distinct valid token, and no
      // unselected valid token scores higher than a selected one.
      std::vector<bool> taken(static_cast<size_t>(s), false);
      double lowest_selected = 1e30;
      for (int64_t q = 0; q < 6; ++q) {
        const size_t qi = static_cast<size_t>((b * 6 + q) * 4);
        int64_t found = -1;
        for (int64_t i = 0; i < s && found < 0; ++i) {
          const size_t t = static_cast<size_t>(b * s + i);
          if (!taken[static_cast<size_t>(i)] && valid[t] &&
              std::abs(eb[t * 4] - db[qi]) < 1e-5 && std::abs(eb[t * 4 + 1] - db[qi + 1]) < 1e-5 &&
              std::abs(eb[t * 4 + 2] - db[qi + 2]) < 1e-5) {
            found = i;
          }
        }
        INFO("layer " << l << " image " << b << " query " << q);
        REQUIRE(found >= 0);
        taken[static_cast<size_t>(found)] = true;
        lowest_selected = std::min(lowest_selected, lg[static_cast<size_t>(b * s + found)]);
      }
      for (int64_t i = 0; i < s; ++i) {
        const size_t t = static_cast<size_t>(b * s + i);
        if (valid[t] && !taken[static_cast<size_t>(i)]) CHECK(lg[t] <= lowest_selected);
      }
    }
  }
  // Too few tokens for the queries is an error naming both.
  auto many = cfg;
  many.num_queries = s + 1;
  check_throws_with([&] { deformable_detr_forward(p, in.features, in.mask, many); },
                    {"[deformable_detr_forward]", "85", "84"});
}

TEST_CASE("encoder_proposal_loss assigns tokens by their centres", "[detr][two_stage]") {
  // One image, three tokens: token 0 lies in both boxes (the smaller, gt 0,
  // wins), token 1 only in gt 1, token 2 in none; token 3 is invalid.
  criteria::EncoderProposals p;
  p.logits = array({0.2, -1.0, 0.5, -0.3, 1.0, 0.1, -2.0, 0.4}, {1, 4, 2});
  p.boxes = array({0.3, 0.3, 0.2, 0.2, 0.6, 0.7, 0.3, 0.3, 0.1, 0.9, 0.1, 0.1, 0.5, 0.5, 0.2, 0.2},
                  {1, 4, 4});
  p.centres = array({0.25, 0.25, 0.8, 0.8, 0.05, 0.95, 0.3, 0.3}, {1, 4, 2});
  p.valid = astype(array(std::vector<int32_t>{1, 1, 1, 0}, {1, 4}), bool_);
  const auto t = criteria::pad_targets(
      {array(std::vector<int32_t>{1, 0}, {2})},
      {array({0.3, 0.3, 0.2, 0.2, 0.5, 0.5, 0.9, 0.9}, {2, 4})}, 3);
  auto [loss, parts] = criteria::encoder_proposal_loss(p, t);
  CHECK(parts["enc_positives"].leaf().item<double>() == 2.0);
  // Focal loss by hand: targets token 0 -> class 1, token 1 -> class 0.
  auto focal = [](double z, double y) {
    const double q = 1 / (1 + std::exp(-z));
    const double ce = -(y * std::log(q) + (1 - y) * std::log(1 - q));
    const double pt = q * y + (1 - q) * (1 - y);
    return (y * 0.25 + (1 - y) * 0.75) * ce * (1 - pt) * (1 - pt);
  };
  const double ce = (focal(0.2, 0) + focal(-1.0, 1) + focal(0.5, 1) + focal(-0.3, 0) +
                     focal(1.0, 0) + focal(0.1, 0)) / 2;
  CHECK(parts["loss_enc_ce"].leaf().item<double>() == Approx(ce).epsilon(1e-12));
  // L1: token 0 equals gt 0; token 1 against gt 1.
  const double l1 = (0.1 + 0.2 + 0.6 + 0.6) / 2;
  CHECK(parts["loss_enc_bbox"].leaf().item<double>() == Approx(l1).epsilon(1e-12));
  // GIoU: 1 for token 0; token 1's box [0.45, 0.55, 0.75, 0.85] lies in gt 1
  // ([0.05, 0.95]^2): IoU = 0.09 / 0.81 and the hull is gt 1.
  const double giou = (0.0 + (1 - 0.09 / 0.81)) / 2;
  CHECK(parts["loss_enc_giou"].leaf().item<double>() == Approx(giou).epsilon(1e-12));
  CHECK(loss.item<double>() == Approx(2 * ce + 5 * l1 + 2 * giou).epsilon(1e-12));
  // Without real ground truths everything valid is a negative and P = 1.
  auto none = t;
  none.mask = zeros_like(t.mask);
  auto [l0, p0] = criteria::encoder_proposal_loss(p, none);
  CHECK(p0["enc_positives"].leaf().item<double>() == 0.0);
  CHECK(p0["loss_enc_bbox"].leaf().item<double>() == 0.0);
  CHECK(std::isfinite(l0.item<double>()));
  check_throws_with(
      [&] {
        auto q = p;
        q.boxes = slice_axis(p.boxes, 1, 0, 3);
        criteria::encoder_proposal_loss(q, t);
      },
      {"[encoder_proposal_loss]", "(1,4,4)", "(1,3,4)"});
}

TEST_CASE("two-stage gradients match finite differences (float64)", "[detr][two_stage]") {
  const auto cfg = tiny_two_stage();
  const auto in = tiny_transformer_inputs(float64);
  const Tree p = moved(init_deformable_detr(random::key(9), cfg, float64), float64);
  const auto t = two_targets(float64);
  auto proposal_loss = [&](const Tree& params) {
    return criteria::encoder_proposal_loss(
               *deformable_detr_forward(params, in.features, in.mask, cfg).encoder, t)
        .first;
  };
  auto decoder_loss = [&](const Tree& params) {
    auto out = deformable_detr_forward(params, in.features, in.mask, cfg);
    array total = array(0.0);
    for (size_t i = 0; i < out.logits.size(); ++i) {
      total = total + sum(out.logits[i] * gen({2, 6, 5}, 0.1 * i)) +
              sum(out.boxes[i] * gen({2, 6, 4}, 1.0 + i));
    }
    return total;
  };
  // The selected boxes are detached (as the reference's), so the decoder's
  // outputs are differentiated as finite differences see them only along
  // parameters after the selection; the proposals' loss along all of them.
  auto after_selection = [](const std::string& path) {
    return path.rfind("transformer.decoder.", 0) == 0 || path.rfind("transformer.pos_trans", 0) == 0 ||
           path.rfind("class_embed", 0) == 0 || path.rfind("bbox_embed", 0) == 0;
  };
  for (bool decoder : {false, true}) {
    INFO((decoder ? "decoder outputs" : "proposal loss"));
    const std::function<array(const Tree&)> loss =
        decoder ? std::function<array(const Tree&)>(decoder_loss) : proposal_loss;
    uint64_t k = 0;
    auto flat = p.flatten();
    for (auto& [path, leaf] : flat) {
      leaf = decoder && !after_selection(path) ? zeros_like(leaf) : gen(leaf.shape(), 0.3 * ++k);
    }
    const Tree dir = Tree::from_flat(flat);
    const Tree g = grad(loss)(p);
    double analytic = 0;
    const auto gl = g.leaves(), dl = dir.leaves();
    for (size_t i = 0; i < gl.size(); ++i) analytic += sum(gl[i] * dl[i]).item<double>();
    // Small steps: the selection and the assignment are piecewise constant
    // and must not flip inside the difference.
    const double eps = 1e-7;
    auto shifted = [&](double s) {
      return loss(Tree::map([&](const array& a, const array& d) { return a + d * s; }, p, dir))
          .item<double>();
    };
    const double numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
    INFO(std::setprecision(12) << "analytic " << analytic << " numeric " << numeric);
    CHECK(std::abs(analytic - numeric) <= 1e-5 * std::abs(numeric) + 1e-6);
    if (!decoder) {
      for (const char* path : {"enc_class_embed.weight", "enc_bbox_embed.layers.0.weight",
                               "transformer.enc_output.weight", "input_proj.0.0.weight"}) {
        INFO(path);
        CHECK(max(abs(g.at(path))).item<double>() > 0.0);
      }
    } else {
      // The box head of the proposals reaches the decoder only through the
      // detached selection.
      CHECK(max(abs(g.at("enc_bbox_embed.layers.2.weight"))).item<double>() == 0.0);
      CHECK(max(abs(g.at("transformer.pos_trans.weight"))).item<double>() > 0.0);
    }
  }
}
