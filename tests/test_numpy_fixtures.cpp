// Core ops against numpy: tests/fixtures/gen_core_fixtures.py wrote inputs and
// numpy outputs into tests/data/core_fixtures.safetensors; every case there
// must have an mfx expression here (and vice versa).
#include <functional>
#include <map>
#include <set>

#include "test_utils.h"

using namespace mfx;

namespace {

using Fn = std::function<array(const std::vector<array>&)>;

std::map<std::string, Fn> expressions() {
  using V = const std::vector<array>&;
  return {
      {"exp", [](V in) { return exp(in[0]); }},
      {"log", [](V in) { return log(in[0]); }},
      {"log1p", [](V in) { return log1p(in[0]); }},
      {"expm1", [](V in) { return expm1(in[0]); }},
      {"sqrt", [](V in) { return sqrt(in[0]); }},
      {"rsqrt", [](V in) { return rsqrt(in[0]); }},
      {"square", [](V in) { return square(in[0]); }},
      {"sin", [](V in) { return sin(in[0]); }},
      {"cos", [](V in) { return cos(in[0]); }},
      {"tan", [](V in) { return tan(in[0]); }},
      {"arctan", [](V in) { return arctan(in[0]); }},
      {"tanh", [](V in) { return tanh(in[0]); }},
      {"sigmoid", [](V in) { return sigmoid(in[0]); }},
      {"erf", [](V in) { return erf(in[0]); }},
      {"floor", [](V in) { return floor(in[0]); }},
      {"ceil", [](V in) { return ceil(in[0]); }},
      {"round", [](V in) { return round(in[0]); }},
      {"abs", [](V in) { return abs(in[0]); }},
      {"sign", [](V in) { return sign(in[0]); }},
      {"relu", [](V in) { return relu(in[0]); }},
      {"gelu", [](V in) { return gelu(in[0]); }},
      {"softplus", [](V in) { return softplus(in[0]); }},
      {"add", [](V in) { return add(in[0], in[1]); }},
      {"subtract", [](V in) { return subtract(in[0], in[1]); }},
      {"multiply", [](V in) { return multiply(in[0], in[1]); }},
      {"divide", [](V in) { return divide(in[0], in[1]); }},
      {"power", [](V in) { return power(in[0], in[1]); }},
      {"maximum", [](V in) { return maximum(in[0], in[1]); }},
      {"minimum", [](V in) { return minimum(in[0], in[1]); }},
      {"arctan2", [](V in) { return arctan2(in[0], in[1]); }},
      {"floor_divide", [](V in) { return floor_divide(in[0], in[1]); }},
      {"remainder", [](V in) { return remainder(in[0], in[1]); }},
      {"where", [](V in) { return where(in[0] > 0.0, in[0], in[1]); }},
      {"sum_0", [](V in) { return sum(in[0], {0}); }},
      {"sum_12", [](V in) { return sum(in[0], {1, 2}); }},
      {"sum_02_keep", [](V in) { return sum(in[0], {0, 2}, true); }},
      {"mean_1", [](V in) { return mean(in[0], {1}); }},
      {"prod_2", [](V in) { return prod(in[0], {2}); }},
      {"max_1", [](V in) { return max(in[0], {1}); }},
      {"min_02", [](V in) { return min(in[0], {0, 2}); }},
      {"var_2", [](V in) { return var(in[0], {2}); }},
      {"var_0_ddof1", [](V in) { return var(in[0], {0}, false, 1); }},
      {"std_12", [](V in) { return mfx::std(in[0], {1, 2}); }},
      {"logsumexp_2", [](V in) { return logsumexp(in[0], {2}); }},
      {"argmax_1", [](V in) { return argmax(in[0], 1); }},
      {"argmin_2", [](V in) { return argmin(in[0], 2); }},
      {"cumsum_1", [](V in) { return cumsum(in[0], 1); }},
      {"cumsum_2_reverse", [](V in) { return cumsum(in[0], 2, true); }},
      {"softmax_2", [](V in) { return softmax(in[0], 2); }},
      {"log_softmax_2", [](V in) { return log_softmax(in[0], 2); }},
      {"transpose_201", [](V in) { return transpose(in[0], {2, 0, 1}); }},
      {"concatenate_1", [](V in) { return concatenate({in[0], in[1]}, 1); }},
      {"pad", [](V in) { return pad(in[0], {{1, 0}, {2, 3}}, array(0.5)); }},
      {"tile", [](V in) { return tile(in[0], {2, 3}); }},
      {"repeat_1", [](V in) { return repeat(in[0], 3, 1); }},
      {"flip_02", [](V in) { return flip(in[0], {0, 2}); }},
      {"stack_1", [](V in) { return stack({in[0], in[0] * 2.0}, 1); }},
      {"take_1", [](V in) { return take(in[0], in[1], 1); }},
      {"take_along_axis_1", [](V in) { return take_along_axis(in[0], in[1], 1); }},
      {"scatter_add_1", [](V in) { return scatter_add(in[0], in[1], in[2], 1); }},
      {"sort_1", [](V in) { return sort(in[0], 1); }},
      {"argsort_2", [](V in) { return argsort(in[0], 2); }},
      {"topk_values", [](V in) { return topk(in[0], 3, 2).first; }},
      {"topk_indices", [](V in) { return topk(in[0], 3, 2).second; }},
      {"one_hot", [](V in) { return one_hot(in[0], 5, float64); }},
      {"matmul_bcast", [](V in) { return matmul(in[0], in[1]); }},
      {"einsum_bnd_bmd", [](V in) { return einsum("bnd,bmd->bnm", in); }},
      {"einsum_three", [](V in) { return einsum("bnd,bmd,mk->bnk", in); }},
  };
}

}  // namespace

TEST_CASE("core ops match numpy fixtures", "[numpy]") {
  auto tensors = load_safetensors(mfx::test::data_path("core_fixtures.safetensors"));
  auto exprs = expressions();
  std::set<std::string> names;
  for (auto& [key, value] : tensors) names.insert(key.substr(0, key.rfind('.')));
  CHECK(names.size() == exprs.size());
  for (const auto& name : names) {
    INFO("case " << name);
    REQUIRE(exprs.count(name) == 1);
    std::vector<array> inputs;
    while (tensors.count(name + ".in" + std::to_string(inputs.size()))) {
      inputs.push_back(tensors.at(name + ".in" + std::to_string(inputs.size())));
    }
    array expected = tensors.at(name + ".out");
    array got = exprs.at(name)(inputs);
    CHECK(got.dtype() == expected.dtype());
    mfx::test::check_close(got, expected.to_vector<double>(), expected.shape(), 1e-12, 1e-12);
  }
}

TEST_CASE("numpy fixtures hold in float32 too", "[numpy]") {
  auto tensors = load_safetensors(mfx::test::data_path("core_fixtures.safetensors"));
  auto exprs = expressions();
  for (const char* name : {"exp", "tanh", "gelu", "add", "divide", "sum_12", "var_2",
                           "logsumexp_2", "softmax_2", "matmul_bcast", "einsum_three"}) {
    INFO("case " << name);
    std::vector<array> inputs;
    std::string n = name;
    while (tensors.count(n + ".in" + std::to_string(inputs.size()))) {
      inputs.push_back(astype(tensors.at(n + ".in" + std::to_string(inputs.size())), float32));
    }
    array expected = tensors.at(n + ".out");
    array got = exprs.at(n)(inputs);
    CHECK(got.dtype() == float32);
    mfx::test::check_close(got, expected.to_vector<double>(), expected.shape(), 1e-5, 1e-5);
  }
}
