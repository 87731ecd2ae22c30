// Functional optimisers, schedules and gradient clipping against the
// torch.optim update equations (reference values from numpy re-implementations).
#include <cmath>

#include "test_utils.h"

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
