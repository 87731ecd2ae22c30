// vjp/jvp rules of the random primitives: zero cotangents for the key, zero
// tangents of the output's shape and dtype; and their equivalence (CSE)
// distinguishes output dtypes.
#include "grad_check.h"
#include "mfx/random.h"

using namespace mfx;
using namespace mfx::test;

TEST_CASE("grad: random primitives give zeros both ways") {
  array k = random::key(7);
  struct Expect {
    array y;
    std::string name;
    Shape shape;
    Dtype dtype;
  };
  std::vector<Expect> cases = {
      {random::split(k, 3), "RandomSplit", {3, 2}, int64},
      {random::bits(k, {2, 3}), "RandomBits", {2, 3}, int64},
      {random::uniform(k, {4}, 0.0, 1.0, float64), "RandomUniform", {4}, float64},
      {random::uniform(k, {2, 2}, -1.0, 1.0, float16), "RandomUniform", {2, 2}, float16},
      {random::randint(k, 0, 9, {5}, int64), "RandomInteger", {5}, int64},
      {random::randint(k, 0, 9, {1, 3}, uint8), "RandomInteger", {1, 3}, uint8},
      {random::permutation(k, 6), "RandomPermutation", {6}, int32},
  };
  for (auto& c : cases) {
    INFO(c.name << " " << shape_str(c.shape));
    REQUIRE(c.y.primitive().name() == c.name);
    auto ins = c.y.inputs();
    array ct = is_floating(c.dtype) ? ones(c.shape, c.dtype) : zeros(c.shape, c.dtype);
    auto g = c.y.primitive().vjp(ins, {ct}, {0}, c.y.outputs());
    REQUIRE(g.size() == 1);
    CHECK(g[0].shape() == ins[0].shape());
    CHECK(g[0].dtype() == ins[0].dtype());
    check_all_zero(g[0]);
    auto t = c.y.primitive().jvp(ins, {ones_like(ins[0])}, {0});
    REQUIRE(t.size() == 1);
    CHECK(t[0].shape() == c.shape);
    CHECK(t[0].dtype() == c.dtype);
    check_all_zero(t[0]);
  }
}

TEST_CASE("grad: random samples are constants to the engine") {
  // d/dx sum(x * u) = u for a fixed key.
  array u = random::uniform(random::key(3), {2, 3}, 0.0, 1.0, float64);
  auto g = grad([](const array& x) {
    return sum(x * random::uniform(random::key(3), {2, 3}, 0.0, 1.0, float64));
  })(ones({2, 3}, float64));
  check_close(g, values(u), {2, 3}, 0, 0);
  // A key built from the input (through astype) still gives zero gradients.
  check_fn_grads(
      [](auto& in) {
        array key = astype(abs(in[0]) * 1000.0, int64);
        return in[1] * random::normal(key, {3}, 0.0, 1.0, float64);
      },
      {array({5.0004, 9.0004}), rand_like({3}, 4)});
}

TEST_CASE("random primitives with different dtypes are not equivalent") {
  array k = random::key(1);
  array a = random::uniform(k, {3}, 0.0, 1.0, float32);
  array b = random::uniform(k, {3}, 0.0, 1.0, float64);
  array c = random::uniform(k, {3}, 0.0, 1.0, float32);
  CHECK_FALSE(a.primitive().is_equivalent(b.primitive()));
  CHECK(a.primitive().is_equivalent(c.primitive()));
  array i = random::randint(k, 0, 5, {3}, int32);
  array j = random::randint(k, 0, 5, {3}, int64);
  CHECK_FALSE(i.primitive().is_equivalent(j.primitive()));
  CHECK(i.primitive().is_equivalent(random::randint(k, 0, 5, {3}, int32).primitive()));
}
