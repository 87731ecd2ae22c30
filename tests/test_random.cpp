// Counter-based random numbers: Threefry known answers, pinned streams,
// reproducibility, distribution statistics, dtypes and errors.
//
// Expected streams come from an independent Python model of the documented
// layout (block i at counter (i >> 32, i & 0xffffffff)); key, split, fold_in,
// bits and the [0, 1) uniforms were also checked against jax 0.10.2
// (jax_threefry_partitionable, the default), e.g.
//   jax.random.split(jax.random.PRNGKey(42), 3)
//   jax.random.bits(jax.random.PRNGKey(42), (6,), jnp.uint32)
//   jax.random.uniform(jax.random.PRNGKey(42), (4,), jnp.float32 / jnp.float64)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>

#include "primitives/random.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

array key_of(int64_t k0, int64_t k1) {
  return array({k0, k1});
}

// Row i of a [n, 2] key array as a [2] key.
array row(const array& keys, int64_t i) {
  return reshape(slice_axis(keys, 0, i, i + 1), {2});
}

// Same shape and values (exact).
bool same(array a, array b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size());
  return m;
}

constexpr int64_t kN = 100000;

}  // namespace

TEST_CASE("threefry2x32-20 known-answer vectors", "[random]") {
  // Random123 kat_vectors for threefry2x32_20, reached through fold_in, whose
  // block counter is (data >> 32, data & 0xffffffff). Checked with an
  // independent Python implementation of Threefry.
  CHECK(random::fold_in(key_of(0, 0), 0).to_vector<int64_t>() ==
        std::vector<int64_t>{0x6b200159, 0x99ba4efe});
  CHECK(
      random::fold_in(key_of(0xffffffff, 0xffffffff), 0xffffffffffffffffull).to_vector<int64_t>() ==
      std::vector<int64_t>{0x1cb996fc, 0xbb002be7});
  CHECK(
      random::fold_in(key_of(0x13198a2e, 0x03707344), 0x243f6a8885a308d3ull).to_vector<int64_t>() ==
      std::vector<int64_t>{0xc4923a9c, 0x483df7a0});
  // An int32 key is read as its 32-bit patterns.
  array k32({int32_t{-1}, int32_t{-1}});
  CHECK(random::fold_in(k32, 0xffffffffffffffffull).to_vector<int64_t>() ==
        std::vector<int64_t>{0x1cb996fc, 0xbb002be7});
}

TEST_CASE("key, split and fold_in", "[random]") {
  CHECK(random::key(0).to_vector<int64_t>() == std::vector<int64_t>{0, 0});
  CHECK(random::key(42).to_vector<int64_t>() == std::vector<int64_t>{0, 42});
  // jax.random.key_data(jax.random.PRNGKey(123456789012345))
  CHECK(random::key(123456789012345ull).to_vector<int64_t>() ==
        std::vector<int64_t>{28744, 2249056121});
  CHECK(random::key(42).dtype() == int64);

  array ks = random::split(random::key(42), 3);
  CHECK(ks.shape() == Shape{3, 2});
  CHECK(ks.dtype() == int64);
  CHECK(ks.to_vector<int64_t>() ==
        std::vector<int64_t>{1832780943, 270669613, 64467757, 2916123636, 2465931498, 255383827});
  CHECK(random::split(random::key(42)).shape() == Shape{2, 2});
  CHECK(random::split(random::key(42), 0).shape() == Shape{0, 2});
  // jax.random.fold_in(jax.random.PRNGKey(42), 7)
  CHECK(random::fold_in(random::key(42), 7).to_vector<int64_t>() ==
        std::vector<int64_t>{2547012911, 1371500959});
  // fold_in(k, i) is row i of split(k, n).
  array k7 = random::key(7);
  CHECK(same(random::fold_in(k7, 5), row(random::split(k7, 6), 5)));
  // Keys split from split keys (unevaluated inputs) stay distinct.
  array a = random::split(row(ks, 0), 2);
  array b = random::split(row(ks, 1), 2);
  std::set<int64_t> words;
  for (auto v : a.to_vector<int64_t>()) words.insert(v);
  for (auto v : b.to_vector<int64_t>()) words.insert(v);
  CHECK(words.size() == 8);
}

TEST_CASE("keys may be strided views", "[random]") {
  array ks = random::split(random::key(3), 4);  // [4, 2]
  array kt = transpose(ks);                     // [2, 4]; column j is key j
  array col = reshape(slice_axis(kt, 1, 2, 3), {2});
  CHECK(same(random::bits(col, {5}), random::bits(row(ks, 2), {5})));
  array rev = flip(random::key(9), {0});  // negative stride
  CHECK(same(random::bits(rev, {3}), random::bits(key_of(9, 0), {3})));
}

TEST_CASE("bits are the pinned 32-bit words", "[random]") {
  array w = random::bits(random::key(42), {2, 3});
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.dtype() == int64);
  // jax.random.bits(jax.random.PRNGKey(42), (6,), jnp.uint32)
  CHECK(w.to_vector<int64_t>() == std::vector<int64_t>{2098992034, 2919706841, 2646866425,
                                                       2409546199, 1935504149, 2516274904});
  auto big = random::bits(random::key(1), {kN}).to_vector<int64_t>();
  auto [mn, mx] = std::minmax_element(big.begin(), big.end());
  CHECK(*mn >= 0);
  CHECK(*mx <= 0xffffffffll);
  CHECK(*mx > 0xff000000ll);  // the top byte is used
  CHECK(random::bits(random::key(1), {}).shape() == Shape{});
  CHECK(random::bits(random::key(1), {0, 4}).size() == 0);
}

TEST_CASE("bits, uniform and randint follow the block function at every counter", "[random]") {
  // The CPU computes blocks many counters at a time (vector lanes) inside
  // chunks of a parallel loop; every length across those boundaries gives
  // the blocks of the scalar function, in order.
  const uint32_t k0 = 0x9e3779b9u, k1 = 0x7f4a7c15u;
  const array key = key_of(k0, k1);
  for (int64_t n : {1, 63, 64, 65, 130, 4095, 4097, 20011}) {
    INFO("n = " << n);
    const auto bits = random::bits(key, {n}).to_vector<int64_t>();
    const auto u32 = random::uniform(key, {n}, -2.0, 3.0).to_vector<float>();
    const auto u64 = random::uniform(key, {n}, 0.0, 1.0, float64).to_vector<double>();
    const auto ints = random::randint(key, -5, 1000, {n}, int64).to_vector<int64_t>();
    int64_t wrong = -1;
    for (int64_t i = 0; i < n && wrong < 0; ++i) {
      const auto [y0, y1] =
          threefry2x32(k0, k1, static_cast<uint32_t>(uint64_t(i) >> 32), static_cast<uint32_t>(i));
      const uint64_t w64 = (uint64_t{y0} << 32) | y1;
      const float f = static_cast<float>(std::fma(((y0 ^ y1) >> 9) * 0x1p-23, 5.0, -2.0));
      const double d = static_cast<double>(w64 >> 12) * 0x1p-52;
      const bool ok = bits[i] == int64_t{y0 ^ y1} && u32[i] == f && u64[i] == d &&
                      ints[i] == -5 + static_cast<int64_t>(w64 % 1005);
      if (!ok) wrong = i;
    }
    CHECK(wrong == -1);
  }
}

TEST_CASE("uniform: pinned values and reproducibility", "[random]") {
  array k = random::key(42);
  // jax.random.uniform(jax.random.PRNGKey(42), (4,), jnp.float32): exact.
  array u = random::uniform(k, {4});
  CHECK(u.dtype() == float32);
  auto uv = u.to_vector<float>();
  CHECK(uv == std::vector<float>{0x1.f47048p-2f, 0x1.5c0e6p-1f, 0x1.3b87fp-1f, 0x1.1f3d8p-1f});
  // jax.random.uniform(jax.random.PRNGKey(42), (3,), jnp.float64)
  auto dv = random::uniform(k, {3}, 0.0, 1.0, float64).to_vector<double>();
  CHECK(dv == std::vector<double>{0x1.b4f8123c40884p-2, 0x1.ebd996d6e84p-7, 0x1.25f641d41e71ap-1});

  // Same key, separately built graphs: identical numbers.
  CHECK(same(random::uniform(random::key(5), {100}), random::uniform(random::key(5), {100})));
  // Different keys and different split rows: no shared values.
  auto count_equal = [](array a, array b) {
    auto x = a.to_vector<float>(), y = b.to_vector<float>();
    int n = 0;
    for (size_t i = 0; i < x.size(); ++i) n += x[i] == y[i];
    return n;
  };
  CHECK(count_equal(random::uniform(random::key(5), {100}),
                    random::uniform(random::key(6), {100})) == 0);
  array ks = random::split(random::key(5), 2);
  CHECK(count_equal(random::uniform(row(ks, 0), {100}), random::uniform(row(ks, 1), {100})) == 0);
  CHECK(count_equal(random::uniform(row(ks, 0), {100}), random::uniform(random::key(5), {100})) ==
        0);
  // The stream is laid out row-major: shape does not change the values.
  CHECK(same(reshape(random::uniform(k, {3, 4}), {12}), random::uniform(k, {12})));
}

TEST_CASE("uniform statistics and bounds", "[random]") {
  array k = random::key(2024);
  auto v = random::uniform(k, {kN}).to_vector<double>();
  Moments m = moments(v);
  // Standard errors: mean 0.29/sqrt(n) = 9e-4, variance ~2.4e-4.
  CHECK(std::abs(m.mean - 0.5) < 0.004);
  CHECK(std::abs(m.var - 1.0 / 12) < 0.0015);
  auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  CHECK(*mn >= 0.0);
  CHECK(*mn < 1e-3);
  CHECK(*mx < 1.0);
  CHECK(*mx > 1 - 1e-3);
  // Ten equal bins: each holds 10% +- 0.6% (sd 0.095%).
  std::vector<int> bins(10, 0);
  for (double x : v) ++bins[static_cast<int>(x * 10)];
  for (int c : bins) CHECK(std::abs(c - kN / 10) < 600);

  auto w = random::uniform(k, {kN}, -2.0, 3.0, float64).to_vector<double>();
  m = moments(w);
  CHECK(std::abs(m.mean - 0.5) < 0.02);
  CHECK(std::abs(m.var - 25.0 / 12) < 0.04);
  auto [wn, wx] = std::minmax_element(w.begin(), w.end());
  CHECK(*wn >= -2.0);
  CHECK(*wx < 3.0);
}

TEST_CASE("uniform stays below high after rounding to the dtype", "[random][dtype]") {
  array k = random::key(11);
  // About 1 in 4096 float32 samples rounds to 1.0 as float16, 1 in 256 as bfloat16.
  for (Dtype t : {float16, bfloat16, float32}) {
    array u = random::uniform(k, {kN}, 0.0, 1.0, t);
    CHECK(u.dtype() == t);
    auto v = u.to_vector<double>();
    CHECK(*std::max_element(v.begin(), v.end()) < 1.0);
    CHECK(*std::min_element(v.begin(), v.end()) >= 0.0);
  }
  // Negative bounds and bounds between representable values.
  for (Dtype t : {float16, bfloat16}) {
    auto neg = random::uniform(k, {kN}, -1.0, -0.5, t).to_vector<double>();
    CHECK(*std::max_element(neg.begin(), neg.end()) < -0.5);
    CHECK(*std::min_element(neg.begin(), neg.end()) >= -1.0);
    auto mid = random::uniform(k, {kN}, 0.1, 0.2, t).to_vector<double>();
    CHECK(*std::min_element(mid.begin(), mid.end()) >= 0.1);
    CHECK(*std::max_element(mid.begin(), mid.end()) < 0.2);
  }
  // float16 spacing near 1000 is 0.5: values land on 1000.0 or 1000.5.
  auto h = random::uniform(k, {1000}, 1000.0, 1001.0, float16).to_vector<double>();
  std::set<double> hs(h.begin(), h.end());
  CHECK(hs == std::set<double>{1000.0, 1000.5});
  // An interval that holds a single float32 value.
  auto one = random::uniform(k, {50}, 1.0, 1.0 + 0x1p-23, float32).to_vector<double>();
  CHECK(std::all_of(one.begin(), one.end(), [](double x) { return x == 1.0; }));
  // The float32 stream rounded: a float16 sample is its float32 sample rounded.
  auto f32 = random::uniform(k, {64}, -1.0, 1.0, float32);
  auto f16 = random::uniform(k, {64}, -1.0, 1.0, float16);
  CHECK(same(astype(f32, float16), f16));
}

TEST_CASE("normal: pinned values and statistics", "[random]") {
  // sqrt(2) * erfinv(u), u from the documented (-1, 1) uniform; close to
  // jax.random.normal(jax.random.PRNGKey(42), (6,)) up to float32 rounding.
  check_close(random::normal(random::key(42), {6}),
              {-0.028304655223954978, 0.46713174245525074, 0.29570290490086176, 0.15354588958938103,
               -0.1240328637861287, 0.21692311956117008},
              {6}, 1e-6, 1e-7);
  // jax.random.normal(jax.random.PRNGKey(42), (4,), jnp.float64)
  check_close(random::normal(random::key(42), {4}, 0.0, 1.0, float64),
              {-0.18471174528191162, -2.169824560397754, 0.18693555179382582, 0.6122653570510959},
              {4}, 1e-13, 1e-15);

  for (Dtype t : {float32, float64}) {
    auto v = random::normal(random::key(99), {kN}, 0.0, 1.0, t).to_vector<double>();
    CHECK(std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
    Moments m = moments(v);
    // Standard errors: mean 3.2e-3, variance 4.5e-3.
    CHECK(std::abs(m.mean) < 0.015);
    CHECK(std::abs(m.var - 1.0) < 0.022);
    double tail = 0;
    for (double x : v) tail += std::abs(x) > 1.959964;
    CHECK(std::abs(tail / kN - 0.05) < 0.0035);
  }
  auto s = random::normal(random::key(100), {kN}, 3.0, 2.0).to_vector<double>();
  Moments m = moments(s);
  CHECK(std::abs(m.mean - 3.0) < 0.03);
  CHECK(std::abs(m.var - 4.0) < 0.09);

  array h = random::normal(random::key(100), {8}, 3.0, 2.0, float16);
  CHECK(h.dtype() == float16);
  check_close(h, std::vector<double>(s.begin(), s.begin() + 8), {8}, 1e-3, 1e-3);
  check_close(random::normal(random::key(1), {3}, 5.0, 0.0), {5, 5, 5}, {3});
}

TEST_CASE("bernoulli", "[random]") {
  array k = random::key(8);
  array b = random::bernoulli(k, array(0.3f), {kN});
  CHECK(b.dtype() == bool_);
  CHECK(b.shape() == Shape{kN});
  auto v = b.to_vector<double>();
  double rate = std::accumulate(v.begin(), v.end(), 0.0) / kN;
  CHECK(std::abs(rate - 0.3) < 0.006);  // sd 1.45e-3

  // p broadcasts over the rows: never, half the time, always.
  array p({0.0, 0.5, 1.0});
  auto g = random::bernoulli(k, p, {kN / 10, 3}).to_vector<double>();
  double c0 = 0, c1 = 0, c2 = 0;
  for (size_t i = 0; i < g.size(); i += 3) {
    c0 += g[i];
    c1 += g[i + 1];
    c2 += g[i + 2];
  }
  CHECK(c0 == 0);
  CHECK(c2 == kN / 10);
  CHECK(std::abs(c1 / (kN / 10) - 0.5) < 0.02);
  // uniform < p, with float64 uniforms for float64 p.
  CHECK(same(random::bernoulli(k, p, {4, 3}),
             less(random::uniform(k, {4, 3}, 0.0, 1.0, float64), p)));
  // An integer p compares as float32: 1 is always true.
  auto ones = random::bernoulli(k, array(1), {10}).to_vector<int>();
  CHECK(std::all_of(ones.begin(), ones.end(), [](int x) { return x == 1; }));

  check_throws_with(
      [&] {
        random::bernoulli(k, array({0.1f, 0.2f}), {4, 3});
      },
      {"[bernoulli]", "(2)", "(4,3)"});
  check_throws_with(
      [&] {
        random::bernoulli(k, array({0.5f, 0.5f, 0.5f}, {3, 1}), {3});
      },
      {"[bernoulli]", "(3,1)", "(3)"});
  check_throws_with([&] { random::bernoulli(k, array(true), {3}); }, {"[bernoulli]", "bool"});
}

TEST_CASE("randint", "[random]") {
  array k = random::key(42);
  array r = random::randint(k, -5, 10, {8});
  CHECK(r.dtype() == int32);
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{-4, 8, 5, 5, -4, 2, 4, -5});
  // Full int64 range arithmetic (unsigned range, wrapped sum).
  CHECK(
      random::randint(k, -(int64_t{1} << 62), int64_t{1} << 62, {3}, int64).to_vector<int64_t>() ==
      std::vector<int64_t>{3260048192760321837, -4334799107549789196, -3243962916940490477});

  // Range and coverage: 7 values, each ~1/7 of the samples (sd 0.11%).
  auto v = random::randint(random::key(3), -3, 4, {kN}).to_vector<int64_t>();
  auto [vmin, vmax] = std::minmax_element(v.begin(), v.end());
  REQUIRE(*vmin == -3);
  REQUIRE(*vmax == 3);
  std::vector<int> counts(7, 0);
  for (auto x : v) ++counts[x + 3];
  for (int c : counts) CHECK(std::abs(c - kN / 7.0) < 700);

  auto bytes = random::randint(random::key(4), 0, 256, {20000}, uint8);
  CHECK(bytes.dtype() == uint8);
  auto bv = bytes.to_vector<int>();
  CHECK(std::set<int>(bv.begin(), bv.end()).size() == 256);
  auto wide =
      random::randint(random::key(5), INT64_MIN, INT64_MAX, {1000}, int64).to_vector<int64_t>();
  CHECK(std::count_if(wide.begin(), wide.end(), [](int64_t x) { return x < 0; }) > 400);
  CHECK(std::count_if(wide.begin(), wide.end(), [](int64_t x) { return x > (int64_t{1} << 62); }) >
        150);
  CHECK(random::randint(k, 7, 8, {5}).to_vector<int>() == std::vector<int>{7, 7, 7, 7, 7});

  check_throws_with([&] { random::randint(k, 3, 3, {2}); }, {"[randint]", "[3, 3)"});
  check_throws_with([&] { random::randint(k, 0, 257, {2}, uint8); }, {"[randint]", "uint8"});
  check_throws_with([&] { random::randint(k, -1, 2, {2}, uint8); }, {"[randint]", "uint8"});
  check_throws_with([&] { random::randint(k, 0, int64_t{1} << 40, {2}); }, {"[randint]", "int32"});
  check_throws_with([&] { random::randint(k, 0, 4, {2}, float32); }, {"[randint]", "float32"});
}

TEST_CASE("permutation", "[random]") {
  CHECK(random::permutation(random::key(3), 10).to_vector<int>() ==
        std::vector<int>{1, 8, 2, 3, 9, 0, 6, 4, 5, 7});
  array p = random::permutation(random::key(12), 1000);
  CHECK(p.dtype() == int32);
  auto pv = p.to_vector<int>();
  std::vector<int> sorted = pv;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(pv != iota);
  CHECK(random::permutation(random::key(1), 0).shape() == Shape{0});
  CHECK(random::permutation(random::key(1), 1).to_vector<int>() == std::vector<int>{0});
  // All 6 orders of 3 elements appear about equally often over 3000 keys.
  std::map<std::vector<int>, int> seen;
  array ks = random::split(random::key(77), 3000);
  for (int i = 0; i < 3000; ++i) ++seen[random::permutation(row(ks, i), 3).to_vector<int>()];
  CHECK(seen.size() == 6);
  for (auto& [order, c] : seen) CHECK(std::abs(c - 500) < 100);

  // Shuffling rows: row r of the result is row perm[r] of x, for strided x too.
  array x = transpose(reshape(arange(12, float32), {3, 4}));  // [4, 3], not contiguous
  array k = random::key(21);
  array y = random::permutation(k, x);
  CHECK(y.shape() == Shape{4, 3});
  CHECK(y.dtype() == float32);
  auto perm = random::permutation(k, 4).to_vector<int>();
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 3; ++c) CHECK(yv[r * 3 + c] == xv[perm[r] * 3 + c]);
  }
  auto v1 = random::permutation(k, array({10, 20, 30, 40})).to_vector<int>();
  for (int r = 0; r < 4; ++r) CHECK(v1[r] == 10 * (perm[r] + 1));
  CHECK(random::permutation(k, zeros({0, 3})).shape() == Shape{0, 3});

  check_throws_with([&] { random::permutation(k, -1); }, {"[permutation]", "-1"});
  check_throws_with([&] { random::permutation(k, array(1.0f)); }, {"[permutation]", "()"});
}

TEST_CASE("random errors name the op, shapes and dtypes", "[random][errors]") {
  array k = random::key(0);
  check_throws_with([&] { random::bits(array({1, 2, 3}, {3}, int64), {2}); }, {"[bits]", "(3)"});
  check_throws_with(
      [&] {
        random::uniform(array({1, 2, 3, 4}, {2, 2}, int64), {2});
      },
      {"[uniform]", "(2,2)"});
  check_throws_with([&] { random::split(array({1.0f, 2.0f}), 2); }, {"[split]", "float32"});
  check_throws_with([&] { random::fold_in(array({true, false}), 1); }, {"[fold_in]", "bool"});
  check_throws_with([&] { random::normal(array(), {2}); }, {"[normal]", "null"});
  check_throws_with([&] { random::split(k, -1); }, {"[split]", "-1"});
  check_throws_with([&] { random::bits(k, {2, -1}); }, {"[bits]", "(2,-1)"});
  check_throws_with([&] { random::uniform(k, {2}, 1.0, 1.0); }, {"[uniform]", "[1, 1)"});
  check_throws_with([&] { random::uniform(k, {2}, 0.0, INFINITY); }, {"[uniform]", "inf"});
  check_throws_with([&] { random::uniform(k, {2}, -1e308, 1e308); }, {"[uniform]"});
  check_throws_with([&] { random::uniform(k, {2}, 0.0, 1.0, int32); }, {"[uniform]", "int32"});
  check_throws_with([&] { random::normal(k, {2}, 0.0, 1.0, int64); }, {"[normal]", "int64"});
  check_throws_with([&] { random::normal(k, {2}, 0.0, -1.0); }, {"[normal]", "stddev"});
  // Found at evaluation: a word outside [0, 2^32), an empty float16 interval.
  check_throws_with([&] { random::bits(key_of(-1, 0), {2}).eval(); }, {"[bits]", "-1"});
  check_throws_with([&] { random::split(key_of(0, int64_t{1} << 32), 2).eval(); },
                    {"[split]", "4294967296"});
  check_throws_with([&] { random::uniform(k, {2}, 1.0001, 1.0002, float16).eval(); },
                    {"[uniform]", "float16"});
}
