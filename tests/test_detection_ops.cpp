// ms_deform_attn and grid_sample: values (hand-computed, numpy fixtures, the
// reference grid_sample composition), gradients (finite differences on the
// primitives and through the transforms), vmap, dtypes and errors.
#include <map>
#include <string>

#include "grad_check.h"
#include "test_utils.h"
#include "vmap_check.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_fn_grads;
using mfx::test::check_grads;
using mfx::test::check_throws_with;
using mfx::test::check_vmap;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

using Levels = std::vector<std::pair<int64_t, int64_t>>;

const std::map<std::string, array>& fixtures() {
  static const auto fx =
      load_safetensors(mfx::test::data_path("detection_fixtures.safetensors"));
  return fx;
}

const array& fixture(const std::string& key) {
  auto it = fixtures().find(key);
  REQUIRE(it != fixtures().end());
  return it->second;
}

// Deformable DETR's ms_deform_attn_core_pytorch in mfx ops: one grid_sample
// per level (zeros, align_corners=false at 2 * loc - 1), then the weighted
// sum over levels and points.
array msda_reference(const array& value, const Levels& levels, const array& loc, const array& w) {
  const int64_t b = value.shape(0), m = value.shape(2), d = value.shape(3);
  const int64_t q = loc.shape(1), nl = loc.shape(3), p = loc.shape(4);
  array grids = loc * 2.0 - 1.0;
  std::vector<array> sampled;
  int64_t start = 0;
  for (int64_t l = 0; l < nl; ++l) {
    auto [hh, ww] = levels[l];
    array v = slice_axis(value, 1, start, start + hh * ww);  // [B, HW, M, D]
    v = reshape(transpose(v, {0, 2, 3, 1}), {b * m, d, hh, ww});
    array g = take(grids, array(static_cast<int32_t>(l)), 3);  // [B, Q, M, P, 2]
    g = reshape(transpose(g, {0, 2, 1, 3, 4}), {b * m, q, p, 2});
    sampled.push_back(grid_sample(v, g));  // [B*M, D, Q, P]
    start += hh * ww;
  }
  array s = reshape(stack(sampled, 3), {b * m, d, q, nl * p});
  array aw = reshape(transpose(w, {0, 2, 1, 3, 4}), {b * m, 1, q, nl * p});
  array out = reshape(sum(s * aw, -1), {b, m * d, q});
  return transpose(out, {0, 2, 1});
}

// Random inputs for B, Q, H, Dh, P over `levels`; locations in [-0.2, 1.2]
// so some points fall outside every level.
struct MsdaInputs {
  array value, loc, weight;
};

MsdaInputs msda_inputs(const Levels& levels, int64_t b, int64_t q, int64_t h, int64_t d, int64_t p,
                       uint64_t seed) {
  int64_t s = 0;
  for (auto [hh, ww] : levels) s += hh * ww;
  const int64_t l = static_cast<int64_t>(levels.size());
  return {rand_like({b, s, h, d}, seed), rand_like({b, q, h, l, p, 2}, seed + 1) * 0.7 + 0.5,
          rand_like({b, q, h, l, p}, seed + 2)};
}

}  // namespace

// ------------------------------------------------------------------ grid_sample values

TEST_CASE("grid_sample: hand-computed points, both paddings and alignments", "[detection]") {
  array x = array({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2});
  // (x, y) grid points: centre, corners, pixel centres without align_corners
  // (+-0.5 for a 2-pixel axis), an edge point and one far outside.
  array grid = array({0.0, 0.0, -1.0, -1.0, 1.0, 1.0, -0.5, -0.5, 0.5, -0.5, 5.0, 5.0, -1.0, 0.0},
                     {1, 1, 7, 2});
  // align_corners: -1/1 are pixel centres.
  check_close(grid_sample(x, grid, GridPadding::zeros, true), {2.5, 1.0, 4.0, 1.75, 2.25, 0.0, 2.0},
              {1, 1, 1, 7});
  // Without: -1 is the outer edge (half a pixel beyond the centre), so with
  // zero padding the corner reads 1/4 of pixel (0,0); +-0.5 are exact centres.
  check_close(grid_sample(x, grid, GridPadding::zeros, false), {2.5, 0.25, 1.0, 1.0, 2.0, 0.0, 1.0},
              {1, 1, 1, 7});
  check_close(grid_sample(x, grid, GridPadding::border, false), {2.5, 1.0, 4.0, 1.0, 2.0, 4.0, 2.0},
              {1, 1, 1, 7});
  check_close(grid_sample(x, grid, GridPadding::border, true),
              {2.5, 1.0, 4.0, 1.75, 2.25, 4.0, 2.0}, {1, 1, 1, 7});
}

TEST_CASE("grid_sample matches the numpy reference (fixtures)", "[detection]") {
  const array& in = fixture("gs.input");
  const array& grid = fixture("gs.grid");
  for (auto padding : {GridPadding::zeros, GridPadding::border}) {
    for (bool align : {true, false}) {
      std::string key = std::string("gs.out.") +
                        (padding == GridPadding::zeros ? "zeros" : "border") +
                        (align ? ".align" : ".noalign");
      INFO(key);
      const array& want = fixture(key);
      check_close(grid_sample(in, grid, padding, align), values(want), want.shape(), 1e-12, 1e-12);
      // Non-contiguous inputs: a channel-last buffer transposed back, a
      // reversed grid slice re-reversed.
      array in_t = transpose(array(values(transpose(in, {0, 2, 3, 1})), {2, 5, 6, 3}, float64),
                             {0, 3, 1, 2});
      array grid_r = flip(flip(grid, {2}), {2});
      check_close(grid_sample(in_t, grid_r, padding, align), values(want), want.shape(), 1e-12,
                  1e-12);
      // float32 and float16 compute close to the float64 reference.
      check_close(grid_sample(astype(in, float32), astype(grid, float32), padding, align),
                  values(want), want.shape(), 1e-5, 1e-5);
      array h = grid_sample(astype(in, float16), astype(grid, float16), padding, align);
      CHECK(h.dtype() == float16);
      check_close(h,
                  values(grid_sample(astype(astype(in, float16), float64),
                                     astype(astype(grid, float16), float64), padding, align)),
                  want.shape(), 1e-2, 1e-2);
    }
  }
}

// ------------------------------------------------------------------ ms_deform_attn values

TEST_CASE("ms_deform_attn: pixel centres, borders and outside points", "[detection]") {
  // One level 2x2 (H=1 head, Dh=2), one query, P=4 points.
  array value = array({1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0}, {1, 4, 1, 2});
  // (x, y) in [0, 1]: centre of pixel (0,0) = (0.25, 0.25); pixel (1,0) at
  // x = 0.75; the top-left corner (0, 0) sits half a pixel outside both
  // axes (1/4 of pixel (0,0)); x = 1.5 is fully outside (0).
  array loc = array({0.25, 0.25, 0.75, 0.25, 0.0, 0.0, 1.5, 0.5}, {1, 1, 1, 1, 4, 2});
  array w = array({1.0, 10.0, 100.0, 1000.0}, {1, 1, 1, 1, 4});
  // 1*[1,10] + 10*[2,20] + 100*0.25*[1,10] + 1000*0 = [46, 460]
  check_close(ms_deform_attn(value, {{2, 2}}, loc, w), {46.0, 460.0}, {1, 1, 2});
}

TEST_CASE("ms_deform_attn matches the numpy reference and the grid_sample composition",
          "[detection]") {
  Levels levels{{3, 4}, {2, 3}, {1, 2}};
  const array &value = fixture("msda.value"), &loc = fixture("msda.loc"),
              &w = fixture("msda.weight"), &want = fixture("msda.out");
  array got = ms_deform_attn(value, levels, loc, w);
  check_close(got, values(want), want.shape(), 1e-12, 1e-12);
  check_close(msda_reference(value, levels, loc, w), values(want), want.shape(), 1e-12, 1e-12);
  // Larger random case (locations partly outside) against the composition.
  auto in = msda_inputs({{5, 7}, {3, 4}, {2, 2}, {1, 1}}, 2, 9, 3, 5, 3, 11);
  check_close(ms_deform_attn(in.value, {{5, 7}, {3, 4}, {2, 2}, {1, 1}}, in.loc, in.weight),
              values(msda_reference(in.value, {{5, 7}, {3, 4}, {2, 2}, {1, 1}}, in.loc, in.weight)),
              {2, 9, 15}, 1e-12, 1e-12);
  // Non-contiguous inputs: value from a head-major buffer, broadcast weights.
  array v_t = transpose(array(values(transpose(value, {0, 2, 1, 3})), {2, 2, 20, 3}, float64),
                        {0, 2, 1, 3});
  array w1 = broadcast_to(slice_axis(w, 0, 0, 1), w.shape());
  check_close(ms_deform_attn(v_t, levels, loc, w1), values(msda_reference(value, levels, loc, w1)),
              want.shape(), 1e-12, 1e-12);
  // float32 / bfloat16 close to float64.
  check_close(
      ms_deform_attn(astype(value, float32), levels, astype(loc, float32), astype(w, float32)),
      values(want), want.shape(), 1e-5, 1e-5);
  array bf =
      ms_deform_attn(astype(value, bfloat16), levels, astype(loc, bfloat16), astype(w, bfloat16));
  CHECK(bf.dtype() == bfloat16);
  check_close(bf, values(want), want.shape(), 0.05, 0.05);
}

// ------------------------------------------------------------------ gradients

TEST_CASE("ms_deform_attn gradients: primitive rules and transforms vs finite differences",
          "[detection][grad]") {
  Levels levels{{3, 4}, {2, 3}};
  auto in = msda_inputs(levels, 2, 3, 2, 3, 2, 21);
  auto f = [levels](const std::vector<array>& x) {
    return ms_deform_attn(x[0], levels, x[1], x[2]);
  };
  check_grads(f, {in.value, in.loc, in.weight}, "MSDeformAttn");
  // Through the engine, with ops around the primitive as in the model:
  // sigmoid locations and softmax weights over levels x points.
  auto g = [levels](const std::vector<array>& x) {
    const Shape& ws = x[2].shape();
    array w = reshape(softmax(reshape(x[2], {ws[0], ws[1], ws[2], ws[3] * ws[4]}), -1), ws);
    return tanh(ms_deform_attn(x[0] * 2.0, levels, sigmoid(x[1] * 3.0), w));
  };
  check_fn_grads(g, {in.value, in.loc, in.weight});
}

TEST_CASE("ms_deform_attn backward is deterministic and handles outside points",
          "[detection][grad]") {
  Levels levels{{4, 4}, {2, 2}};
  auto in = msda_inputs(levels, 1, 40, 2, 4, 4, 31);
  auto f = [&](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], levels, x[1], x[2])};
  };
  array ct = rand_like({1, 40, 8}, 5);
  auto [o1, g1] = vjp(f, {in.value, in.loc, in.weight}, {ct});
  auto [o2, g2] = vjp(f, {in.value, in.loc, in.weight}, {ct});
  for (int k = 0; k < 3; ++k) CHECK(values(g1[k]) == values(g2[k]));
  // A point outside every level contributes nothing and gets zero gradients.
  array loc = array({-0.6, 0.5}, {1, 1, 1, 1, 1, 2});
  array value = rand_like({1, 4, 1, 2}, 3);
  array w = array({2.0}, {1, 1, 1, 1, 1});
  auto h = [&](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], {{2, 2}}, x[1], x[2])};
  };
  auto [o, g] = vjp(h, {value, loc, w}, {ones({1, 1, 2}, float64)});
  check_close(o[0], {0.0, 0.0}, {1, 1, 2});
  for (int k = 0; k < 3; ++k) mfx::test::check_all_zero(g[k]);
}

TEST_CASE("grid_sample gradients vs finite differences, both paddings and alignments",
          "[detection][grad]") {
  array x = rand_like({2, 3, 4, 5}, 41);
  array grid = rand_like({2, 3, 4, 2}, 42) * 1.2;  // some points outside
  for (auto padding : {GridPadding::zeros, GridPadding::border}) {
    for (bool align : {true, false}) {
      INFO("padding " << static_cast<int>(padding) << " align " << align);
      auto f = [=](const std::vector<array>& in) {
        return grid_sample(in[0], in[1], padding, align);
      };
      check_grads(f, {x, grid}, "GridSample");
      auto g = [=](const std::vector<array>& in) {
        return square(grid_sample(exp(in[0]), tanh(in[1]) * 1.1, padding, align));
      };
      check_fn_grads(g, {x, grid});
    }
  }
}

// ------------------------------------------------------------------ vmap

TEST_CASE("vmap of ms_deform_attn and grid_sample matches stacking", "[detection][vmap]") {
  Levels levels{{3, 3}, {1, 2}};
  auto in = msda_inputs(levels, 2, 3, 2, 2, 2, 51);
  array vb = rand_like({3, 2, 11, 2, 2}, 52);
  array lb = rand_like({2, 3, 3, 2, 2, 2, 2}, 53) * 0.6 + 0.5;  // batch on axis 1
  auto f = [levels](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], levels, x[1], x[2])};
  };
  check_vmap(f, {vb, lb, in.weight}, {0, 1, std::nullopt});
  check_vmap(f, {in.value, lb, in.weight}, {std::nullopt, 1, std::nullopt});
  // The gradient under vmap batches the backward primitive too.
  auto grads = [f](const std::vector<array>& x) {
    array ct = ones({2, 3, 4}, float64);
    return vjp(f, x, std::vector<array>{ct}).second;
  };
  check_vmap(grads, {vb, lb, in.weight}, {0, 1, std::nullopt});
  // Forward mode under vmap batches the location-derivative members.
  auto tangent = [f](const std::vector<array>& x) {
    return jvp(f, {x[0], x[1], x[2]}, {x[3], x[4], x[5]}).second;
  };
  check_vmap(tangent,
             {vb, lb, in.weight, rand_like(in.value.shape(), 56), rand_like(lb.shape(), 57),
              rand_like(in.weight.shape(), 58)},
             {0, 1, std::nullopt, std::nullopt, 1, std::nullopt});

  array xs = rand_like({3, 2, 2, 4, 4}, 54), grid = rand_like({2, 3, 5, 2}, 55) * 1.2;
  for (auto [padding, align] :
       {std::pair{GridPadding::border, true}, std::pair{GridPadding::zeros, false}}) {
    auto gs = [padding, align](const std::vector<array>& x) {
      return std::vector<array>{grid_sample(x[0], x[1], padding, align)};
    };
    check_vmap(gs, {xs, grid}, {0, std::nullopt});
    auto gs_grads = [gs](const std::vector<array>& x) {
      return vjp(gs, x, std::vector<array>{ones({2, 2, 3, 5}, float64)}).second;
    };
    check_vmap(gs_grads, {xs, grid}, {0, std::nullopt});
  }
}

TEST_CASE("empty extents and non-finite locations", "[detection]") {
  // Q = 0 queries, B = 0 images, no grid points: empty results of the right shape.
  auto in = msda_inputs({{2, 2}}, 1, 0, 2, 3, 2, 81);
  CHECK(ms_deform_attn(in.value, {{2, 2}}, in.loc, in.weight).shape() == Shape{1, 0, 6});
  auto in0 = msda_inputs({{2, 2}}, 0, 2, 2, 3, 2, 82);
  CHECK(ms_deform_attn(in0.value, {{2, 2}}, in0.loc, in0.weight).shape() == Shape{0, 2, 6});
  array x = rand_like({2, 3, 4, 5}, 83);
  CHECK(values(grid_sample(x, zeros({2, 0, 3, 2}, float64))).empty());
  // NaN and infinite locations contribute zero (as in the reference kernel).
  const double nan = std::nan(""), inf = INFINITY;
  array loc = array({nan, 0.5, 0.5, inf, -inf, 0.5}, {1, 1, 1, 1, 3, 2});
  array value = rand_like({1, 4, 1, 2}, 84);
  check_close(ms_deform_attn(value, {{2, 2}}, loc, ones({1, 1, 1, 1, 3}, float64)), {0.0, 0.0},
              {1, 1, 2});
  check_close(grid_sample(array({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2}),
                          array({nan, 0.0, inf, 0.0}, {1, 1, 2, 2})),
              {0.0, 0.0}, {1, 1, 1, 2});
  // Border padding clamps infinities to the edge; NaN still samples 0.
  check_close(
      grid_sample(array({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2}),
                  array({nan, 0.0, inf, -1.0, -inf, 1.0}, {1, 1, 3, 2}), GridPadding::border),
      {0.0, 2.0, 3.0}, {1, 1, 1, 3});
}

// ------------------------------------------------------------------ errors

TEST_CASE("ms_deform_attn and grid_sample reject bad shapes and dtypes", "[detection]") {
  auto in = msda_inputs({{2, 3}}, 1, 2, 2, 4, 3, 61);  // S = 6, H = 2, L = 1, P = 3
  check_throws_with(
      [&] {
        ms_deform_attn(in.value, {{2, 2}}, in.loc, in.weight);
      },
      {"[ms_deform_attn]", "(1,6,2,4)", "S=6", "(2,2)", "=4"});
  check_throws_with(
      [&] {
        ms_deform_attn(in.value, {{2, 3}, {1, 1}}, in.loc, in.weight);
      },
      {"[ms_deform_attn]", "2 spatial shapes", "(1,2,2,1,3,2)", "L=1"});
  check_throws_with(
      [&] {
        ms_deform_attn(in.value, {{2, 3}}, in.loc, slice_axis(in.weight, 4, 0, 2));
      },
      {"[ms_deform_attn]", "(1,2,2,1,3,2)", "(1,2,2,1,2)"});
  check_throws_with(
      [&] {
        ms_deform_attn(slice_axis(in.value, 2, 0, 1), {{2, 3}}, in.loc, in.weight);
      },
      {"[ms_deform_attn]", "(1,6,1,4)", "heads"});
  check_throws_with(
      [&] {
        ms_deform_attn(in.value, {{2, 3}}, in.loc, astype(in.weight, float32));
      },
      {"[ms_deform_attn]", "one floating dtype", "float32"});
  check_throws_with(
      [&] {
        ms_deform_attn(astype(in.value, int32), {{2, 3}}, astype(in.loc, int32),
                       astype(in.weight, int32));
      },
      {"[ms_deform_attn]", "int32"});
  check_throws_with(
      [&] {
        ms_deform_attn(reshape(in.value, {6, 2, 4}), {{2, 3}}, in.loc, in.weight);
      },
      {"[ms_deform_attn]", "(6,2,4)"});

  array x = rand_like({2, 3, 4, 5}, 1);
  check_throws_with(
      [&] {
        grid_sample(x, rand_like({1, 3, 3, 2}, 2));
      },
      {"[grid_sample]", "(2,3,4,5)", "(1,3,3,2)"});
  check_throws_with(
      [&] {
        grid_sample(x, rand_like({2, 3, 3, 3}, 2));
      },
      {"[grid_sample]", "(2,3,3,3)"});
  check_throws_with(
      [&] {
        grid_sample(x, astype(rand_like({2, 3, 3, 2}, 2), float32));
      },
      {"[grid_sample]", "float64", "float32"});
}

TEST_CASE("ms_deform_attn second derivatives vs finite differences", "[detection][grad]") {
  Levels levels{{3, 4}, {2, 3}};
  auto in = msda_inputs(levels, 1, 3, 2, 3, 2, 91);
  array ct = rand_like({1, 3, 6}, 92);
  auto f = [levels](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], levels, x[1], x[2])};
  };
  // The fused backward primitive's own rules (value, locations, weights and
  // the cotangent are all inputs of it).
  for (int k = 0; k < 3; ++k) {
    INFO("gradient " << k);
    auto grad_k = [f, k](const std::vector<array>& x) {
      return vjp(f, {x[0], x[1], x[2]}, std::vector<array>{x[3]}).second[k];
    };
    check_grads(grad_k, {in.value, in.loc, in.weight, ct}, "MSDeformAttnBackward");
  }
  // Reverse-over-reverse and forward-over-reverse through the engine: all
  // first-order cotangents as one function of (value, locations, weights, ct).
  auto grads = [f](const std::vector<array>& x) {
    auto g = vjp(f, {x[0], x[1], x[2]}, std::vector<array>{x[3]}).second;
    return concatenate({flatten(g[0]), flatten(g[1]), flatten(g[2])});
  };
  check_fn_grads(grads, {in.value, in.loc, in.weight, ct});
  // Derivatives of the forward-mode tangent (location derivative members).
  auto tangent = [f](const std::vector<array>& x) {
    return jvp(f, {x[0], x[1], x[2]}, {x[3], x[4], x[5]}).second[0];
  };
  check_fn_grads(tangent, {in.value, in.loc, in.weight, rand_like(in.value.shape(), 93),
                           rand_like(in.loc.shape(), 94), rand_like(in.weight.shape(), 95)});
}

TEST_CASE("grid_sample second derivatives vs finite differences", "[detection][grad]") {
  array x = rand_like({1, 2, 4, 5}, 101);
  array grid = rand_like({1, 3, 2, 2}, 102) * 1.2;
  array ct = rand_like({1, 2, 3, 2}, 103);
  for (auto padding : {GridPadding::zeros, GridPadding::border}) {
    for (bool align : {true, false}) {
      INFO("padding " << static_cast<int>(padding) << " align " << align);
      auto f = [=](const std::vector<array>& in) {
        return std::vector<array>{grid_sample(in[0], in[1], padding, align)};
      };
      for (int k = 0; k < 2; ++k) {
        auto grad_k = [f, k](const std::vector<array>& in) {
          return vjp(f, {in[0], in[1]}, std::vector<array>{in[2]}).second[k];
        };
        check_grads(grad_k, {x, grid, ct}, "GridSampleBackward");
      }
      auto grads = [f](const std::vector<array>& in) {
        auto g = vjp(f, {in[0], in[1]}, std::vector<array>{in[2]}).second;
        return concatenate({flatten(g[0]), flatten(g[1])});
      };
      check_fn_grads(grads, {x, grid, ct});
      auto tangent = [f](const std::vector<array>& in) {
        return jvp(f, {in[0], in[1]}, {in[2], in[3]}).second[0];
      };
      check_fn_grads(tangent, {x, grid, rand_like(x.shape(), 104), rand_like(grid.shape(), 105)});
    }
  }
}
