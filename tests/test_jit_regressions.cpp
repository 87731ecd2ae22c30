// jit equals eager on programs that once broke the planner or the fused
// kernels: a reduction over a value computed inline (a comparison) whose
// kernel the code generator cannot take, bool operands of remainder and
// power, float16 products and sums whose partial results overflow.
#include <functional>
#include <limits>

#include "mfx/jit.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::values;

namespace {

ArrayFn one(std::function<array(const array&)> f) {
  return [f](const std::vector<array>& a) { return std::vector<array>{f(a[0])}; };
}

// Runs f eagerly and jitted on x: both succeed with equal values, or both
// throw std::invalid_argument.
void check_jit_matches_eager(std::function<array(const array&)> f, const array& x) {
  std::vector<double> eager;
  bool eager_threw = false;
  try {
    eager = values(f(x));
  } catch (const std::invalid_argument&) {
    eager_threw = true;
  }
  auto jf = jit(one(f));
  if (eager_threw) {
    CHECK_THROWS_AS(jf({x})[0].eval(), std::invalid_argument);
    return;
  }
  std::vector<double> jitted = values(jf({x})[0]);
  REQUIRE(jitted.size() == eager.size());
  for (size_t i = 0; i < eager.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(eager[i])) {
      CHECK(std::isnan(jitted[i]));
    } else {
      CHECK(jitted[i] == eager[i]);
    }
  }
}

}  // namespace

TEST_CASE("jit of a bool reduction over a comparison", "[jit][regression]") {
  array x = array({1.0f, 5.0f, 2.0f, 7.0f}, {2, 2});
  check_jit_matches_eager([](const array& v) { return max(less(v, array(3.0f)), 0); }, x);
  check_jit_matches_eager([](const array& v) { return max(less(v, array(3.0f))); }, x);
  check_jit_matches_eager([](const array& v) { return min(greater(v, array(3.0f)), 1); }, x);
  check_jit_matches_eager([](const array& v) { return sum(less(v, array(3.0f)), 0); }, x);
  CHECK(values(jit(one([](const array& v) { return max(less(v, array(3.0f)), 0); }))({x})[0]) ==
        std::vector<double>{1, 0});
}

TEST_CASE("jit of bool remainder and power refuses like eager", "[jit][regression]") {
  array x = array({1.0f, 5.0f, 2.0f, 7.0f}, {4});
  check_jit_matches_eager(
      [](const array& v) { return remainder(less(v, array(3.0f)), greater(v, array(1.0f))); }, x);
  check_jit_matches_eager(
      [](const array& v) { return power(less(v, array(3.0f)), greater(v, array(1.0f))); }, x);
}

TEST_CASE("jit of a float16 product over a zero is zero", "[jit][regression]") {
  array x = array({2.0f, 0.0f, 3.0f, 4.0f, 0.5f, 1.0f}, {2, 3}, float16);
  check_jit_matches_eager([](const array& v) { return prod(v, 1); }, x);
  check_jit_matches_eager([](const array& v) { return prod(v); }, x);
  check_jit_matches_eager([](const array& v) { return prod(v * v, 0); }, x);
  CHECK(values(jit(one([](const array& v) { return prod(v); }))({x})[0]) == std::vector<double>{0});
  // Row products of 300 * 300 overflow float16 if rounded before the zero
  // row is multiplied in; eager accumulates in float64 and gives 0.
  std::vector<float> big(64 * 3, 300.0f);
  big[5 * 3 + 1] = 0.0f;
  array b = array(big, {64, 3}, float16);
  CHECK(values(prod(b)) == std::vector<double>{0});
  check_jit_matches_eager([](const array& v) { return prod(v); }, b);
  std::vector<float> alt(64 * 3, 60000.0f);
  for (size_t i = 0; i < alt.size(); ++i) alt[i] = (i / 3) % 2 ? -60000.0f : 60000.0f;
  array s = array(alt, {64, 3}, float16);
  check_jit_matches_eager([](const array& v) { return sum(v); }, s);
}

// Float -> integer casts of NaN, inf and out-of-range values: eager defines
// them as the x86 truncating conversion; jitted kernels (fptosi, through
// int32 for uint8) must give the same numbers.
TEST_CASE("jit of out-of-range float to integer casts matches eager", "[jit][regression]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> v = {-2.5, 300.7, nan, inf, -inf, 3e9, -1e20, 255.9};
  for (Dtype src : {float64, float32}) {
    array x = astype(array(v, {8}, float64), src);
    for (Dtype dst : {uint8, int32, int64}) {
      INFO(dtype_name(src) << " -> " << dtype_name(dst));
      check_jit_matches_eager([dst](const array& a) { return astype(negative(negative(a)), dst); }, x);
    }
  }
}

// A full reduction of an empty array with a huge dim is the identity. The
// jitted plan once split it into a reduction of the other axes first, whose
// keepdims partial (3377699720527872,1,1,1) is larger than any array.
TEST_CASE("jit of a reduction of an empty array with a huge dim", "[jit][regression]") {
  const Shape huge = {3377699720527872, 0, 0, 3};  // fuzz seed 2001548
  array x = zeros(huge, float32);
  check_jit_matches_eager([](const array& v) { return sum(log(v)); }, x);
  CHECK(values(jit(one([](const array& v) { return sum(log(v)); }))({x})[0]) ==
        std::vector<double>{0});
  check_jit_matches_eager([](const array& v) { return max(v, {1, 2, 3}); }, zeros({64, 0, 2, 3}));
}

// An index out of range is refused by eager take, whose result is not
// empty, even when the program only uses an empty slice of it; the jitted
// kernel computes no element of that slice but must refuse all the same.
TEST_CASE("jit refuses a bad take index seen only through an empty slice", "[jit][regression]") {
  array x = array(std::vector<int32_t>{3, 4}, {1, 2});  // fuzz seed 1005583
  array bad = array(std::vector<int64_t>{-4, -1, 2}, {3}, int64);
  auto program = [bad](const array& v) { return slice_axis(tanh(take(v, bad, -1)), 0, 1, 3); };
  CHECK_THROWS_AS(program(x).eval(), std::invalid_argument);
  check_jit_matches_eager(program, x);
  // Fuzz seed 2006395: take from an empty axis, any index is out of range.
  array x0 = zeros({0}, float64);
  array last = array(std::vector<int64_t>{-1}, {1}, int64);
  check_jit_matches_eager(
      [last](const array& v) {
        array y = slice_axis(take(v, last, 0), 0, 1, 3);
        return y * y;
      },
      x0);
  // A take whose own result is empty checks nothing, eagerly or jitted.
  array empty = zeros({0, 2}, int32);
  check_jit_matches_eager([bad](const array& v) { return take(v, bad, -1) + 1; }, empty);
}

// Bool power, remainder and floor_divide have no kernel: they are refused
// when the graph is built, so that jit refuses them too when only an empty
// slice of the result is used (fuzz seed 2004949).
TEST_CASE("bool arithmetic without a kernel is refused before evaluation", "[jit][regression]") {
  array t = astype(array({1.0f, 0.0f, 1.0f, 1.0f, 0.0f, 1.0f}, {1, 3, 1, 2}), bool_);
  using BinaryFn = array (*)(const array&, const array&);
  for (BinaryFn op : std::initializer_list<BinaryFn>{power, remainder, floor_divide, subtract}) {
    CHECK_THROWS_AS(op(t, t), std::invalid_argument);
    check_jit_matches_eager([op](const array& v) { return slice_axis(op(v, v), 0, 1, 3); }, t);
  }
  CHECK_THROWS_WITH(power(t, t), Catch::Matchers::StartsWith("[power] not supported for bool"));
  // Bool with a number promotes to the number's dtype and is computed.
  CHECK(values(power(t, array(2.0f))) == std::vector<double>{1, 0, 1, 1, 0, 1});
}

// Integer overflow wraps around, as in numpy and in the jitted kernels; the
// eager kernels computed it with signed overflow, undefined behaviour that
// UBSan reported (negative and abs of INT32_MIN / INT64_MIN, add past
// INT32_MAX).
TEST_CASE("integer overflow wraps, eagerly and jitted", "[jit][regression]") {
  const int32_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  array x = array(std::vector<int32_t>{lo, hi, -1, 46341}, {4});
  CHECK(values(negative(x)) == std::vector<double>{lo, -double(hi), 1, -46341});
  CHECK(values(abs(x)) == std::vector<double>{lo, hi, 1, 46341});
  CHECK(values(add(x, array(std::vector<int32_t>{-1, 1, 0, 0}, {4}))) ==
        std::vector<double>{hi, lo, -1, 46341});
  CHECK(values(floor_divide(x, array(std::vector<int32_t>{-1}, {1}))) ==
        std::vector<double>{lo, -double(hi), 1, -46341});
  CHECK(values(square(x))[3] == double(int32_t(uint32_t(46341u * 46341u))));
  CHECK(values(power(array(std::vector<int32_t>{2}, {1}), array(std::vector<int32_t>{31}, {1}))) ==
        std::vector<double>{lo});
  const int64_t lo64 = std::numeric_limits<int64_t>::min();
  array y = array(std::vector<int64_t>{lo64, 3}, {2}, int64);
  CHECK(values(abs(y)) == std::vector<double>{double(lo64), 3});
  for (auto f : std::vector<std::function<array(const array&)>>{
           [](const array& v) { return negative(v); }, [](const array& v) { return abs(v); },
           [](const array& v) { return square(v); }, [](const array& v) { return v + v; },
           [](const array& v) { return v - negative(v); }, [](const array& v) { return v * v; }}) {
    check_jit_matches_eager(f, x);
    check_jit_matches_eager(f, y);
  }
}
