// Functional optimisers, schedules and gradient clipping against the
// torch.optim update equations (reference values from numpy re-implementations).
#include <cmath>

#include "grad_check.h"
#include "mfx/random.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {
const std::vector<std::vector<double>> kGrads = {{0.5, -1.0}, {0.1, 0.3}, {-0.4, 0.2}};
}

TEST_CASE("AdamW matches torch.optim.AdamW over three steps", "[optim]") {
  optim::AdamW opt({.lr = optim::constant(0.1), .weight_decay = 0.01});
  Tree params{{"w", array({1.0, -2.0})}};
  Tree state = opt.init(params);
  for (auto& g : kGrads) {
    std::tie(params, state) = opt.update(params, Tree{{"w", array(g, {2})}}, state);
  }
  // numpy: p *= 1 - lr wd; m, v moments; p -= lr mhat / (sqrt(vhat) + eps)
  check_close(params["w"].leaf(), {0.80760917, -1.83101277}, {2}, 1e-7, 1e-8);
  CHECK(state.at("step").to_vector<int64_t>()[0] == 3);
}

TEST_CASE("SGD with Nesterov momentum and weight decay matches torch.optim.SGD", "[optim]") {
  optim::SGD opt({.lr = optim::constant(0.05), .momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  Tree params{{"w", array({1.0, -2.0})}};
  Tree state = opt.init(params);
  for (auto& g : kGrads) {
    std::tie(params, state) = opt.update(params, Tree{{"w", array(g, {2})}}, state);
  }
  check_close(params["w"].leaf(), {0.89995006, -1.81019886}, {2}, 1e-7, 1e-8);
}

TEST_CASE("parameter groups select learning-rate scale and weight decay by name", "[optim]") {
  optim::SGD opt({.lr = optim::constant(1.0),
                  .weight_decay = 0.5,
                  .groups = {{.pattern = "backbone", .lr_scale = 0.1},
                             {.pattern = "bias", .lr_scale = 1.0, .weight_decay = 0.0}}});
  Tree params{{"backbone", Tree{{"conv", array({1.0})}}}, {"head", Tree{{"bias", array({1.0})}}}};
  Tree grads = params.map([](const array& p) { return ones_like(p); });
  auto [next, state] = opt.update(params, grads, opt.init(params));
  // backbone: 1 - 0.1 * (1 + 0.5 * 1) = 0.85; head.bias: 1 - 1.0 * 1 = 0.
  check_close(next.at("backbone.conv"), {0.85}, {1}, 1e-12, 1e-12);
  check_close(next.at("head.bias"), {0.0}, {1}, 1e-12, 1e-12);
}

TEST_CASE("learning-rate schedules", "[optim]") {
  auto ms = optim::multi_step(2e-4, {40, 10}, 0.1);
  CHECK(ms(0) == Approx(2e-4));
  CHECK(ms(10) == Approx(2e-5));
  CHECK(ms(39) == Approx(2e-5));
  CHECK(ms(40) == Approx(2e-6));
  auto cs = optim::cosine(1.0, 100, 0.1);
  CHECK(cs(0) == Approx(1.0));
  CHECK(cs(50) == Approx(0.55));
  CHECK(cs(100) == Approx(0.1));
  CHECK(cs(500) == Approx(0.1));
  auto wu = optim::warmup(optim::constant(1.0), 10);
  CHECK(wu(0) == Approx(0.0));
  CHECK(wu(5) == Approx(0.5));
  CHECK(wu(10) == Approx(1.0));
  CHECK_THROWS_AS(optim::cosine(1.0, 0), std::invalid_argument);
}

TEST_CASE("global norm and clipping", "[optim]") {
  Tree g{{"a", array({3.0})}, {"b", array({4.0, 0.0})}};
  CHECK(optim::global_norm(g).item<double>() == Approx(5.0));
  auto [clipped, norm] = optim::clip_by_global_norm(g, 1.0);
  CHECK(norm.item<double>() == Approx(5.0));
  CHECK(optim::global_norm(clipped).item<double>() == Approx(1.0).epsilon(1e-6));
  auto [same, n2] = optim::clip_by_global_norm(g, 10.0);
  check_close(same["a"].leaf(), {3.0}, {1}, 1e-12, 1e-12);
}

TEST_CASE("optimiser misuse gives clear errors", "[optim][errors]") {
  optim::AdamW opt({});
  Tree params{{"w", array({1.0})}};
  check_throws_with([&] { opt.update(params, Tree{{"v", array({1.0})}}, opt.init(params)); },
                    {"[AdamW]", "do not match"});
  check_throws_with([&] { opt.update(params, params, Tree{}); }, {"[AdamW]", "step"});
  check_throws_with([&] { optim::clip_by_global_norm(params, 0.0); }, {"[clip_by_global_norm]"});
}

namespace {

// Parameters [w: 64 x 48, b: 48] and gradients whose w part is a transposed
// view (as a product's gradient often is), in `dt`.
std::pair<Tree, Tree> adamw_case(Dtype dt, uint64_t seed) {
  auto normal = [&](Shape s, uint64_t i) {
    return astype(random::normal(random::key(seed + i), s), dt);
  };
  Tree params{{"w", normal({64, 48}, 0)}, {"b", normal({48}, 1)}};
  Tree grads{{"w", transpose(normal({48, 64}, 2))}, {"b", normal({48}, 3)}};
  for (auto& x : params.leaves()) x.eval();
  return {params, grads};
}

// p + 0: the same values, unevaluated, so AdamW takes the composite ops.
Tree lazy(const Tree& t) {
  return t.map([](const array& a) { return a + zeros_like(a); });
}

}  // namespace

TEST_CASE("AdamW's fused update equals the elementwise ops bit for bit", "[optim]") {
  for (Dtype dt : {float32, float64}) {
    for (double wd : {0.0, 0.05}) {
      INFO(dtype_name(dt) << " weight decay " << wd);
      optim::AdamW opt({.lr = optim::constant(1e-2), .weight_decay = wd});
      auto [params, grads] = adamw_case(dt, 7);
      Tree pf = params, sf = opt.init(params), pc = params, sc = opt.init(params);
      for (int step = 0; step < 3; ++step) {
        std::tie(pf, sf) = opt.update(pf, grads, sf);
        CHECK(pf.at("w").primitive().name() == "AdamWStep");
        std::tie(pc, sc) = opt.update(lazy(pc), grads, sc);
        CHECK(pc.at("w").primitive().name() != "AdamWStep");
        for (Tree* t : {&pf, &sf, &pc, &sc}) {
          for (auto& x : t->leaves()) x.eval();
        }
        for (const char* k : {"w", "b"}) {
          INFO("step " << step << " leaf " << k);
          CHECK(mfx::test::values(pf.at(k)) == mfx::test::values(pc.at(k)));
          CHECK(mfx::test::values(sf["m"].at(k)) == mfx::test::values(sc["m"].at(k)));
          CHECK(mfx::test::values(sf["v"].at(k)) == mfx::test::values(sc["v"].at(k)));
        }
      }
    }
  }
}

TEST_CASE("the fused AdamW update's vjp and jvp match finite differences", "[optim]") {
  // On evaluated float64 CPU arrays AdamW::update makes an AdamWStep node;
  // check_grads checks that primitive's own rules, one input at a time.
  optim::AdamW opt({.lr = optim::constant(1e-2), .weight_decay = 0.05});
  auto f = [&](const std::vector<array>& in) {
    Tree state{{"step", array(int64_t{2})},
               {"m", Tree{{"w", in[2]}}},
               {"v", Tree{{"w", in[3]}}}};
    return opt.update(Tree{{"w", in[0]}}, Tree{{"w", in[1]}}, state).first.at("w");
  };
  array v = abs(mfx::test::rand_like({6, 5}, 4)) + 0.1;  // second moments stay positive
  v.eval();
  mfx::test::check_grads(f,
                         {mfx::test::rand_like({6, 5}, 1), mfx::test::rand_like({6, 5}, 2),
                          mfx::test::rand_like({6, 5}, 3), v},
                         "AdamWStep", 1e-6, 1e-6);
}
