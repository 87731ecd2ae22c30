// The fuzzer's own judgement: a gradient comparison that neither cries wolf
// on a loss of huge magnitude nor misses a wrong gradient, and refusals that
// name an op the program never called counted as bugs.
#include <catch2/catch.hpp>
#include <stdexcept>

#include "fuzz/runner.h"

using namespace mfx;
using namespace mfx::fuzz;

namespace {

Case one_input_case(uint64_t seed, InputSpec in, std::function<array(const array&)> f) {
  Case c;
  c.seed = seed;
  c.inputs = {std::move(in)};
  c.program = [f](const std::vector<array>& x) { return f(x[0]); };
  c.differentiable = true;
  c.names = {"test"};
  return c;
}

}  // namespace

TEST_CASE("gradient check: exp of uint8 inputs cast to float64 is not a mismatch", "[fuzz]") {
  // The inputs of seed 2375 of the first fuzzer table, exp(x0: uint8 (1,4)):
  // make_inputs depends only on the seed and the input specs. Values drawn
  // in [-3, 3] wrap to near 255 as uint8, so the loss is about e^255 and
  // central differences cannot resolve the other coordinates' derivatives.
  Case c = one_input_case(2375, {{1, 4}, uint8}, [](const array& x) { return exp(x); });
  std::vector<array> inputs = make_inputs(c);
  auto v = astype(inputs[0], float64).to_vector<double>();
  INFO("inputs " << v[0] << " " << v[1] << " " << v[2] << " " << v[3]);
  double hi = 0, lo = 1e9;
  for (double x : v) hi = std::max(hi, x), lo = std::min(lo, x);
  REQUIRE(hi > 200);  // the huge term that swamps the differences
  REQUIRE(lo < 10);   // a coordinate whose derivative it swamps
  CHECK(check_gradient(c, inputs).empty());
  RunOptions options;
  CHECK(run_case(c, options).outcome == Outcome::ok);
}

TEST_CASE("gradient check: tied maxima of logsumexp(exp(x)) are a kink, not a mismatch", "[fuzz]") {
  // Seed 10042071 of a campaign: at x = 255 (tied 254s and 255s of a uint8
  // input) logsumexp(exp(x)) is smooth only within ~1e-110 of the tie, so a
  // step of 1e-6 sees one one-sided slope and the vjp splits the gradient
  // among the ties. The check skips coordinates whose one-sided slopes differ.
  Case c = one_input_case(10042071, {{2, 3}, float64},
                          [](const array& x) { return logsumexp(exp(x)); });
  std::vector<array> inputs = {array({255.0, 255.0, 255.0, 254.0, 3.0, 0.0}, {2, 3})};
  CHECK(check_gradient(c, inputs).empty());
  // Away from ties the same program is checked and agrees.
  CHECK(check_gradient(c, {array({1.0, 2.0, 0.5, -1.0, 0.0, 1.5}, {2, 3})}).empty());
  Case wrong = one_input_case(1, {{2, 3}, float64}, [](const array& x) {
    return logsumexp(exp(x)) * stop_gradient(x);
  });
  CHECK_FALSE(check_gradient(wrong, {array({1.0, 2.0, 0.5, -1.0, 0.0, 1.5}, {2, 3})}).empty());
}

TEST_CASE("gradient check still catches a wrong gradient", "[fuzz]") {
  // x * stop_gradient(x): the vjp says x, finite differences say 2x.
  Case c = one_input_case(1, {{4}, float64}, [](const array& x) { return x * stop_gradient(x); });
  std::vector<array> inputs = {array({0.5, 1.5, -2.0, 3.0})};
  const std::string diff = check_gradient(c, inputs);
  INFO(diff);
  CHECK(diff.find("finite differences") != std::string::npos);
  // Also among large values where the rounding bound is widest for exp.
  Case e =
      one_input_case(1, {{3}, float64}, [](const array& x) { return exp(x) * stop_gradient(x); });
  CHECK_FALSE(check_gradient(e, {array({1.0, 2.0, 3.0})}).empty());
}

TEST_CASE("a refusal naming an op the program did not call is misnamed", "[fuzz]") {
  RunOptions options;
  options.jit = false;
  Case c = one_input_case(3, {{2}, float32}, [](const array&) -> array {
    throw std::invalid_argument("[full] negative dimension in shape (-1)");
  });
  c.names = {"zeros"};
  Result r = run_case(c, options);
  CHECK(r.outcome == Outcome::misnamed);
  CHECK(is_failure(r.outcome));
  // The library's own refusal of zeros names zeros.
  Case z = one_input_case(3, {{2}, float32}, [](const array&) { return zeros({-1, 2}); });
  z.names = {"zeros"};
  Result rz = run_case(z, options);
  INFO(rz.detail);
  CHECK(rz.outcome == Outcome::clean_error);
}
