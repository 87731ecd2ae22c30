// Sizes and dims that overflow, are negative or exceed the array size limit
// are refused with errors naming the op the user called; numpy's answers for
// extreme-but-valid arguments (huge slice steps, K = 0 products).
#include <limits>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
}  // namespace

TEST_CASE("creation ops refuse counts that do not fit an array", "[shape_limits]") {
  check_throws_with([] { arange(kMax, int64); }, {"[arange]"});
  check_throws_with([] { arange(0.0, 1e300, 1.0, float32); }, {"[arange]"});
  check_throws_with([] { eye(int64_t{1} << 40, -1, 0, float32); }, {"[eye]", "2^48"});
  check_throws_with([] { linspace(0.0, 1.0, kMax, float32); }, {"[linspace]"});
  check_throws_with(
      [] {
        zeros({int64_t{1} << 62, 2}, float32);
      },
      {"[zeros]", "(4611686018427387904,2)"});
  check_throws_with([] { zeros({kMax, kMax}, float32); }, {"[zeros]"});
  check_throws_with([] { random::uniform(random::key(0), {int64_t{1} << 50}); },
                    {"[uniform]", "2^48"});
  check_throws_with([] { random::bits(random::key(0), {kMax, 3}); }, {"[bits]", "2^48"});
}

// Ops built on other ops (zeros on full, normal on uniform, bernoulli on
// uniform and less) name the function called, once, at the start.
TEST_CASE("refusals of composite creation ops name the op called", "[shape_limits]") {
  auto starts_with = [](auto f, const std::string& prefix) {
    try {
      f();
      FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.rfind(prefix, 0) == 0);
      // Named once: no "(in zeros)" after "[zeros]".
      CHECK(msg.find("(in " + prefix.substr(1, prefix.size() - 2) + ")") == std::string::npos);
    }
  };
  const Shape huge{int64_t{1} << 62, 2};
  const array k = random::key(0);
  starts_with([&] { zeros(huge, float32); }, "[zeros]");
  starts_with([&] { ones(huge, float32); }, "[ones]");
  starts_with([&] { zeros({-1}, float32); }, "[zeros]");
  starts_with([&] { ones({2, -3}, int32); }, "[ones]");
  starts_with([&] { full(huge, array(1.0f), float32); }, "[full]");
  starts_with([&] { identity(int64_t{1} << 40, float32); }, "[identity]");
  starts_with([&] { random::uniform(k, huge); }, "[uniform]");
  starts_with([&] { random::normal(k, huge); }, "[normal]");
  starts_with([&] { random::normal(k, {-2}); }, "[normal]");
  starts_with([&] { random::bernoulli(k, array(0.5f), huge); }, "[bernoulli]");
  starts_with([&] { random::randint(k, 0, 5, huge); }, "[randint]");
  starts_with([&] { random::bits(k, huge); }, "[bits]");
  starts_with([&] { dropout(ones({3}), -0.5, k); }, "[dropout]");
  starts_with([&] { broadcast_to(array(1.0), huge); }, "[broadcast_to]");
  // Primitive names (FloorDivide) never reach the caller.
  starts_with([&] { floor_divide(ones({2}), ones({3})); }, "[floor_divide]");
  starts_with([&] { add(zeros({int64_t{1} << 24, 1}), zeros({1, int64_t{1} << 24})); }, "[add]");
  // take is built on gather, matmul broadcasts its batch dims.
  starts_with([&] { take(zeros({2, 0, int64_t{1} << 62}, int64), array({1}), 1); }, "[take]");
  starts_with([&] { matmul(zeros({kMax, 4, 0, 3}, float64), zeros({3, 2}, float64)); }, "[matmul]");
  // Reductions built on sum (mean, var, std) and on full (logsumexp of an
  // empty axis): a zero-size input whose reduced shape is too large.
  const Shape empty_huge{int64_t{3377699720527872}, 0, 2};
  starts_with([&] { mean(zeros(empty_huge, int32), 1); }, "[mean]");
  starts_with([&] { var(zeros(empty_huge, float32), 1); }, "[var]");
  starts_with([&] { mfx::std(zeros(empty_huge, float32), 1); }, "[std]");
  starts_with([&] { logsumexp(zeros(empty_huge, float64), 1); }, "[logsumexp]");
}

TEST_CASE("zero-size shapes with huge dims are fine", "[shape_limits]") {
  array z = zeros({int64_t{1} << 62, 0}, float32);
  CHECK(z.size() == 0);
  CHECK(sum(z, {0}).shape() == Shape{0});
  // Reducing the empty axis would make 2^62 sums.
  check_throws_with([&] { sum(z, {1}); }, {"[sum]", "4611686018427387904"});
}

TEST_CASE("zero-size arrays with a huge axis sort and scan without work", "[shape_limits]") {
  array z = zeros({3, 0, int64_t{1} << 62}, float32);
  CHECK(sort(z, -1).shape() == z.shape());
  CHECK(sort(zeros({1, int64_t{1} << 62, 0}, float16), 1).size() == 0);
  CHECK(argsort(zeros({0, kMax}, float32), 0).size() == 0);
  CHECK(cumsum(z, 2).size() == 0);
}

TEST_CASE("one_hot refuses a depth that overflows", "[shape_limits]") {
  array x = array({1, 2}, {2}, int64);
  check_throws_with([&] { one_hot(x, kMax, float32); }, {"[one_hot]"});
  check_throws_with([&] { one_hot(x, int64_t{1} << 50, float32); }, {"[one_hot]", "2^48"});
  CHECK(one_hot(x, 3, float32).shape() == Shape{2, 3});
}

TEST_CASE("slice_axis with a huge step gives numpy's length", "[shape_limits]") {
  array a = reshape(arange(9, float32), {3, 3});
  array r = slice_axis(a, 0, 0, 3, kMax);
  CHECK(r.shape() == Shape{1, 3});
  CHECK(mfx::test::values(r) == std::vector<double>{0, 1, 2});
  array n = slice_axis(a, 0, 2, -4, kMin);
  CHECK(n.shape() == Shape{1, 3});
  CHECK(mfx::test::values(n) == std::vector<double>{6, 7, 8});
  CHECK(slice_axis(a, 1, kMin, kMax, kMax).shape() == Shape{3, 1});
  check_throws_with([&] { slice_axis(a, 0, 0, 3, 0); }, {"[slice_axis]", "step"});
}

TEST_CASE("shape arithmetic that overflows names the op", "[shape_limits]") {
  array a = zeros({2, 3}, float32);
  check_throws_with([&] { tile(a, {kMax, 1}); }, {"[tile]"});
  check_throws_with([&] { tile(a, {int64_t{1} << 47, 1}); }, {"[tile]", "2^48"});
  check_throws_with([&] { repeat(a, kMax, 0); }, {"[repeat]"});
  check_throws_with([&] { repeat(a, int64_t{1} << 47, 1); }, {"[repeat]", "2^48"});
  check_throws_with([&] { pad(a, {{kMax, 1}, {0, 0}}, array(0.0f)); }, {"[pad]"});
  array big = broadcast_to(array(1.0f), {int64_t{1} << 45});
  check_throws_with([&] { concatenate({big, big, big}, 0); }, {"[concatenate]", "2^48"});
  array huge = zeros({kMax, 0}, float32);
  check_throws_with([&] { concatenate({huge, huge}, 0); }, {"[concatenate]", "overflows"});
  check_throws_with([&] { matmul(zeros({int64_t{1} << 40, 2}, float32), zeros({2, int64_t{1} << 33}, float32)); },
                    {"[matmul]", "2^48"});
}

TEST_CASE("composite ops name themselves in errors", "[shape_limits]") {
  array x = zeros({2, 3}, float32);
  check_throws_with([&] { dropout(x, 0.5, array({1, 2, 3}, {3}, int64), true); }, {"[dropout]"});
  check_throws_with([&] { clip(x, zeros({4}, float32), std::nullopt); }, {"[clip]"});
  check_throws_with([&] { tile(x, {kMax}); }, {"[tile]"});
}

TEST_CASE("vmap of a matmul with inner dimension 0", "[shape_limits]") {
  array a = zeros({2, 3, 0}, float32), b = zeros({0, 4}, float32);
  auto f = [](const std::vector<array>& xs) { return std::vector<array>{matmul(xs[0], xs[1])}; };
  auto out = vmap(f, {0, std::nullopt})({a, b});
  REQUIRE(out[0].shape() == Shape{2, 3, 4});
  CHECK(mfx::test::values(out[0]) == std::vector<double>(24, 0.0));
}

// The product of an empty shape's other dims may not fit int64; reshape
// computed it with signed overflow (UBSan, fuzz seed 1957:
// argmax(x0: bool (2,4,2,2^62,0), axis=1), whose keepdims step reshapes).
TEST_CASE("reshape and flatten of an empty array with huge dims", "[shape_limits]") {
  const int64_t big = int64_t(1) << 62;
  array x = zeros({2, 4, 2, big, 0}, bool_);
  CHECK(argmax(x, 1).shape() == Shape{2, 2, big, 0});
  CHECK(argmax(x, 1, true).shape() == Shape{2, 1, 2, big, 0});
  CHECK(reshape(x, {4, big, 4, 0}).shape() == Shape{4, big, 4, 0});
  CHECK(flatten(x, 3, 4).shape() == Shape{2, 4, 2, 0});
  check_throws_with([&] { flatten(x, 1, 3); }, {"[flatten]"});
  // Without a zero, a target whose product overflows matches no array.
  check_throws_with([&] { reshape(zeros({4}), {big, 8}); }, {"[reshape] cannot reshape"});
}
