// Reductions, arg-reductions, scans, their compositions (mean, var, std,
// logsumexp, softmax) and the whole-array comparisons. Expected values come
// from numpy; the expression is given beside each.
#include <cmath>
#include <limits>
#include <numeric>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();

// a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
array arange24() {
  return reshape(arange(0, 24), {2, 3, 4});
}

}  // namespace

TEST_CASE("sum over axes with keepdims and negative axes", "[reduction]") {
  array a = arange24();
  check_close(sum(a, {1}), {12, 15, 18, 21, 48, 51, 54, 57}, {2, 4});   // a.sum(1)
  check_close(sum(a, {0, 2}), {60, 92, 124}, {3});                      // a.sum((0, 2))
  check_close(sum(a, {2, 0}), {60, 92, 124}, {3});                      // order is free
  check_close(sum(a, {-1}, true), {6, 22, 38, 54, 70, 86}, {2, 3, 1});  // keepdims
  check_close(sum(a, {-3, -1}, true), {60, 92, 124}, {1, 3, 1});
  check_close(sum(a), {276}, {});
  check_close(sum(a, true), {276}, {1, 1, 1});
  // Single axes as ints: sum(a, {1}) and sum(a, 1) name axis 1, not keepdims.
  check_close(sum(a, 1), {12, 15, 18, 21, 48, 51, 54, 57}, {2, 4});
  check_close(mean(a, -1, true), {1.5, 5.5, 9.5, 13.5, 17.5, 21.5}, {2, 3, 1});
  check_close(max(a, 0), {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, {3, 4});
  CHECK(sum(a).dtype() == float32);
  // No axes: nothing is reduced (numpy: a.sum(axis=())), only the dtype changes.
  array b({true, false, true});
  array none = sum(b, std::vector<int>{});
  CHECK(none.dtype() == int32);
  check_close(none, {1, 0, 1}, {3});
  // A 0-d array reduces to itself.
  check_close(sum(array(2.5f)), {2.5}, {});
}

TEST_CASE("max, min, prod, all, any", "[reduction]") {
  array a = arange24();
  check_close(max(a, {0, 1}), {20, 21, 22, 23}, {4});       // a.max((0, 1))
  check_close(min(a, {2}), {0, 4, 8, 12, 16, 20}, {2, 3});  // a.min(2)
  check_close(max(a), {23}, {});
  check_close(min(a, true), {0}, {1, 1, 1});
  // b = a % 5 - 2; b.prod(1)
  array b = remainder(a, array(5.0f)) - 2.0f;
  check_close(prod(b, {1}), {-4, 4, 0, 0, 0, 0, 0, -4}, {2, 4});
  check_close(prod(array({1.5f, -2.0f, 4.0f})), {-12}, {});
  // c = a % 3 == 0: c.all(2), c.any(0), c.all(), c.any()
  array c = equal(remainder(a, array(3.0f)), array(0.0f));
  check_close(all(c, {2}), {0, 0, 0, 0, 0, 0}, {2, 3});
  check_close(any(c, {0}), {1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0}, {3, 4});
  CHECK(all(c).dtype() == bool_);
  CHECK_FALSE(all(c).item<bool>());
  CHECK(any(c).item<bool>());
  check_close(all(array({1.0f, -2.0f, float(kNan)})), {1}, {});  // NaN != 0
  check_close(any(array({0, 0, 0})), {0}, {});
  check_close(all(array({3, 1, 0}, {3}, uint8)), {0}, {});
}

TEST_CASE("multi-axis reductions over every plan", "[reduction]") {
  // x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
  array x = reshape(arange(0, 120), {2, 3, 4, 5});
  // x.sum((0, 2)): innermost dim kept, reduced dims interleaved (column plan)
  check_close(sum(x, {0, 2}),
              {300, 308, 316, 324, 332, 460, 468, 476, 484, 492, 620, 628, 636, 644, 652}, {3, 5});
  // x.sum((1, 3)): innermost dim reduced plus an outer reduced dim (row plan)
  check_close(sum(x, {1, 3}), {330, 405, 480, 555, 1230, 1305, 1380, 1455}, {2, 4});
  // x.transpose(3, 1, 0, 2).sum((0, 3))
  check_close(sum(transpose(x, {3, 1, 0, 2}), {0, 3}), {190, 1390, 590, 1790, 990, 2190}, {3, 2});
  // x.max((1, 3)), x.min((0, 2))
  check_close(max(x, {1, 3}), {44, 49, 54, 59, 104, 109, 114, 119}, {2, 4});
  check_close(min(x, {0, 2}), {0, 1, 2, 3, 4, 20, 21, 22, 23, 24, 40, 41, 42, 43, 44}, {3, 5});
}

TEST_CASE("reductions of non-contiguous inputs", "[reduction]") {
  array a = arange24();
  // a.transpose(2, 0, 1).sum(1)
  check_close(sum(transpose(a, {2, 0, 1}), {1}), {12, 20, 28, 14, 22, 30, 16, 24, 32, 18, 26, 34},
              {4, 3});
  // s = a[::-1, :, ::-2]: s.sum((0, 2)), s.max(1), s.min(0)
  array s = slice(a, {1, 0, 3}, {-3, 3, -5}, {-1, 1, -2});
  REQUIRE(s.shape() == Shape{2, 3, 2});
  check_close(sum(s, {0, 2}), {32, 48, 64}, {3});
  check_close(max(s, {1}), {23, 21, 11, 9}, {2, 2});
  check_close(min(s, {0}), {3, 1, 7, 5, 11, 9}, {3, 2});
  // Broadcast (stride 0) inputs: np.broadcast_to([[1], [2], [3]], (3, 4))
  array col = array({1.0f, 2.0f, 3.0f}, {3, 1});
  array bc = broadcast_to(col, {3, 4});
  check_close(sum(bc, {0}), {6, 6, 6, 6}, {4});
  check_close(sum(bc, {1}), {4, 8, 12}, {3});
  check_close(sum(bc), {24}, {});
  check_close(prod(broadcast_to(array(2), {3, 5})), {32768}, {});
  // Every op on a transposed view agrees with the op on a row-major copy.
  array t = transpose(reshape(arange(-6, 6), {3, 4}));
  array tc = astype(astype(t, float64), float32);  // a fresh row-major copy
  for (int ax = 0; ax < 2; ++ax) {
    CHECK(array_equal(sum(t, {ax}), sum(tc, {ax})));
    CHECK(array_equal(prod(t, {ax}), prod(tc, {ax})));
    CHECK(array_equal(max(t, {ax}), max(tc, {ax})));
    CHECK(array_equal(min(t, {ax}), min(tc, {ax})));
    CHECK(array_equal(all(t, {ax}), all(tc, {ax})));
    CHECK(array_equal(any(t, {ax}), any(tc, {ax})));
  }
}

TEST_CASE("result dtypes", "[reduction][dtype]") {
  array b({true, true, false, true});
  CHECK(sum(b).dtype() == int32);
  check_close(sum(b), {3}, {});
  array u({200, 100, 250}, {3}, uint8);
  CHECK(sum(u).dtype() == int32);
  check_close(sum(u), {550}, {});  // no uint8 wrap-around
  CHECK(prod(u).dtype() == int32);
  check_close(prod(u), {5000000}, {});
  CHECK(max(u).dtype() == uint8);
  check_close(max(u), {250}, {});
  array i({2147483647, 1});
  CHECK(sum(i).dtype() == int32);
  check_close(sum(i), {-2147483648.0}, {});  // wraps like np.int32 arithmetic
  array l({int64_t{1} << 40, int64_t{3}});
  CHECK(sum(l).dtype() == int64);
  CHECK(sum(l).item<int64_t>() == (int64_t{1} << 40) + 3);
  CHECK(prod(l).item<int64_t>() == int64_t{3} << 40);
  array i32({1, 2, 3, 4});
  CHECK(mean(i32).dtype() == float32);
  check_close(mean(i32), {2.5}, {});
  CHECK(max(array({1.5, 2.5})).dtype() == float64);
  CHECK(min(b).dtype() == bool_);
  check_close(min(b), {0}, {});
  CHECK(all(i32).dtype() == bool_);
  CHECK(any(u, {0}).dtype() == bool_);
  CHECK(argmax(i32, 0).dtype() == int32);
  CHECK(cumsum(b, 0).dtype() == int32);
  CHECK(cumsum(u, 0).dtype() == int32);
  CHECK(cumsum(l, 0).dtype() == int64);
}

TEST_CASE("float16 and bfloat16 inputs", "[reduction][dtype]") {
  // h = np.full(1000, 0.1, np.float16): h.sum(dtype=np.float32).astype(np.float16) == 100.0
  array h = full({1000}, array(0.1f), float16);
  array s = sum(h);
  CHECK(s.dtype() == float16);
  check_close(s, {100.0}, {}, 0, 0);  // accumulating in float16 would give 105.2
  // Mean of 1e5 ones: the float32 sum of 1e5 does not fit float16 (max 65504).
  array ones16 = ones({100000}, float16);
  CHECK(mean(ones16).dtype() == float16);
  check_close(mean(ones16), {1.0}, {}, 0, 0);
  array x = astype(array({1.0f, -2.0f, 3.5f, 0.25f}, {2, 2}), float16);
  check_close(max(x, {1}), {1.0, 3.5}, {2});
  check_close(min(x, {0}), {1.0, -2.0}, {2});
  check_close(prod(x), {-1.75}, {});
  check_close(var(x, {1}), {2.25, 2.640625}, {2});
  CHECK(var(x).dtype() == float16);
  array bf = astype(array({1.0f, 2.0f, 3.0f, 4.0f}), bfloat16);
  CHECK(sum(bf).dtype() == bfloat16);
  check_close(sum(bf), {10}, {});
  check_close(argmax(x, 1), {0, 0}, {2});
  check_close(cumsum(x, 1), {1.0, -1.0, 3.5, 3.75}, {2, 2});
}

TEST_CASE("float32 sums of a million elements stay accurate", "[reduction][accuracy]") {
  const int64_t n = 1 << 21;  // past the size where reductions go parallel
  std::vector<float> v(n);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    v[i] = 0.1f * static_cast<float>(1 + i % 7);
    ref += v[i];
  }
  array x(v, {n});
  // Naive float32 accumulation is off by 2.6e-3 relative here (np.cumsum(v)[-1]),
  // numpy's pairwise sum by 6e-8.
  double got = sum(x).item<double>();
  CHECK(std::abs(got - ref) <= 1e-7 * ref);
  // Two long rows (split across partial results) and long columns (tiles
  // folded into doubles).
  array rows = reshape(x, {2, n / 2});
  auto r = sum(rows, {1}).to_vector<double>();
  double r0 = std::accumulate(v.begin(), v.begin() + n / 2, 0.0);
  CHECK(std::abs(r[0] - r0) <= 1e-7 * r0);
  array cols = reshape(x, {n / 4, 4});
  auto c = sum(cols, {0}).to_vector<double>();
  double c0 = 0;
  for (int64_t i = 0; i < n; i += 4) c0 += v[i];
  CHECK(std::abs(c[0] - c0) <= 1e-7 * c0);
  double m = mean(x).item<double>();
  CHECK(std::abs(m - ref / n) <= 1e-7 * (ref / n));
}

TEST_CASE("large reductions run the parallel paths correctly", "[reduction]") {
  // m[i, j] = (i * 7 + j * 3) % 11 as float32, 2048 x 1024 (2M elements)
  const int R = 2048, C = 1024;
  array m = remainder(reshape(arange(0, R), {R, 1}) * 7.0f + arange(0, C) * 3.0f, array(11.0f));
  auto mv = m.to_vector<float>();
  std::vector<double> rows(R, 0), cols(C, 0), rmax(R, -1), amax(R);
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < C; ++j) {
      float x = mv[i * C + j];
      rows[i] += x;
      cols[j] += x;
      rmax[i] = std::max(rmax[i], double(x));
    }
    amax[i] = std::max_element(mv.begin() + i * C, mv.begin() + (i + 1) * C) - (mv.begin() + i * C);
  }
  check_close(sum(m, {1}), rows, {R}, 0, 0);
  check_close(sum(m, {0}), cols, {C}, 0, 0);
  check_close(max(m, {1}), rmax, {R}, 0, 0);
  check_close(sum(transpose(m), {0}), rows, {R}, 0, 0);
  check_close(sum(transpose(m), {1}), cols, {C}, 0, 0);
  check_close(argmax(m, 1), amax, {R}, 0, 0);
  check_close(argmax(transpose(m), 0), amax, {R}, 0, 0);
}

TEST_CASE("NaN propagates through max/min and wins argmax/argmin", "[reduction]") {
  // f = [[1, nan, 3, nan], [2, 2, -1, -1], [nan, 0, 0, 7]]
  const float nan = float(kNan);
  array f({1.0f, nan, 3.0f, nan, 2.0f, 2.0f, -1.0f, -1.0f, nan, 0.0f, 0.0f, 7.0f}, {3, 4});
  check_close(max(f, {1}), {kNan, 2, kNan}, {3});         // f.max(1)
  check_close(min(f, {0}), {kNan, kNan, -1, kNan}, {4});  // f.min(0)
  check_close(argmax(f, 1), {1, 0, 0}, {3});              // f.argmax(1)
  check_close(argmin(f, 1), {1, 2, 0}, {3});              // f.argmin(1)
  check_close(argmax(f, 0), {2, 0, 0, 0}, {4});           // f.argmax(0)
  check_close(argmin(f, 0), {2, 0, 1, 0}, {4});           // f.argmin(0)
  check_close(sum(f, {1}), {kNan, 2, kNan}, {3});
}

TEST_CASE("NaN in long rows and columns (vector loops)", "[reduction]") {
  // Rows of 100 and columns over 40 rows reach the vectorised loops, not only
  // their scalar tails.
  for (Dtype dt : {float32, float64}) {
    std::vector<double> v(40 * 100);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37 * double(i));
    v[5 * 100 + 50] = kNan;  // row 5, column 50
    v[5 * 100 + 70] = kNan;
    array x = array(v, {40, 100}, dt);
    auto rmax = max(x, {1}).to_vector<double>();
    auto cmin = min(x, {0}).to_vector<double>();
    CHECK(std::isnan(rmax[5]));
    CHECK_FALSE(std::isnan(rmax[4]));
    CHECK(std::isnan(cmin[50]));
    CHECK(std::isnan(cmin[70]));
    CHECK_FALSE(std::isnan(cmin[49]));
    CHECK(argmax(x, 1).to_vector<int32_t>()[5] == 50);
    CHECK(argmin(x, 0).to_vector<int32_t>()[70] == 5);
    // Without NaN the vector loops agree with a plain loop.
    double m = -kInf;
    for (int j = 0; j < 100; ++j) m = std::max(m, v[4 * 100 + j]);
    CHECK(rmax[4] == (dt == float32 ? double(float(m)) : m));
    double c = kInf;
    for (int i = 0; i < 40; ++i) c = std::min(c, v[i * 100 + 49]);
    CHECK(cmin[49] == (dt == float32 ? double(float(c)) : c));
  }
}

TEST_CASE("opposite infinities are not mistaken for NaN", "[reduction]") {
  // +inf and -inf in lanes that the vector loops add pairwise: no NaN may appear.
  for (Dtype dt : {float32, float64}) {
    std::vector<double> v(64);
    for (size_t i = 0; i < v.size(); ++i) v[i] = double(i % 9);
    v[0] = kInf;
    v[2] = -kInf;
    v[4] = -kInf;
    array x = array(v, {64}, dt);
    check_close(max(x), {kInf}, {});
    check_close(min(x), {-kInf}, {});
    check_close(argmin(x, 0), {2}, {});
    v[40] = kNan;
    check_close(max(array(v, {64}, dt)), {kNan}, {});
  }
  std::vector<uint8_t> u(100);
  for (size_t i = 0; i < u.size(); ++i) u[i] = uint8_t((i * 37) % 251);
  u[77] = 255;
  check_close(max(array(u, {100})), {255}, {});
  check_close(min(array(u, {100})), {0}, {});
}

TEST_CASE("integer and strided reductions over long extents", "[reduction]") {
  // x[i, j] = (i * 13 + j * 7) % 17 - 8 (int32), 50 x 120
  std::vector<int32_t> v(50 * 120);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 120; ++j) v[i * 120 + j] = (i * 13 + j * 7) % 17 - 8;
  }
  array x(v, {50, 120});
  std::vector<double> rs(50, 0), cs(120, 0), rmin(50, 1e9), csum2(60, 0);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 120; ++j) {
      rs[i] += v[i * 120 + j];
      cs[j] += v[i * 120 + j];
      rmin[i] = std::min(rmin[i], double(v[i * 120 + j]));
      if (j % 2 == 0) csum2[j / 2] += v[i * 120 + j];
    }
  }
  check_close(sum(x, {1}), rs, {50}, 0, 0);
  check_close(sum(x, {0}), cs, {120}, 0, 0);
  check_close(min(x, {1}), rmin, {50}, 0, 0);
  check_close(sum(astype(x, int64), {0}), cs, {120}, 0, 0);
  // x[:, ::2].sum(0): the kept inner dim has stride 2
  check_close(sum(slice(x, {0, 0}, {50, 120}, {1, 2}), {0}), csum2, {60}, 0, 0);
  // Bool counts over long rows: (x > 0).sum(1)
  std::vector<double> pos(50, 0);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 120; ++j) pos[i] += v[i * 120 + j] > 0;
  }
  check_close(sum(greater(x, array(0)), {1}), pos, {50}, 0, 0);
  // Size-1 axes: nothing to combine.
  check_close(sum(ones({1, 1}), {0}), {1}, {1});
  check_close(max(reshape(arange(0, 12), {3, 1, 4}), {1}), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
              {3, 4});
  check_close(max(array(3)), {3}, {});
}

TEST_CASE("few outputs with many rows each (split into partial results)", "[reduction]") {
  // x[i, k, j] = (i + 3 k + j) % 5 over (4000, 2, 300), reduced over axes 0 and 2
  array i0 = reshape(arange(0, 4000), {4000, 1, 1});
  array k1 = reshape(arange(0, 2), {1, 2, 1});
  array j2 = reshape(arange(0, 300), {1, 1, 300});
  array x = remainder(i0 + k1 * 3.0f + j2, array(5.0f));
  std::vector<double> ref(2, 0);
  for (int i = 0; i < 4000; ++i) {
    for (int k = 0; k < 2; ++k) {
      for (int j = 0; j < 300; ++j) ref[k] += (i + 3 * k + j) % 5;
    }
  }
  check_close(sum(x, {0, 2}), ref, {2}, 0, 0);
  check_close(max(x, {0, 2}), {4, 4}, {2});
}

TEST_CASE("argmax and argmin", "[reduction]") {
  // a = [[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8]]
  array a({3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}, {3, 4});
  check_close(argmax(a, 1), {2, 1, 3}, {3});     // a.argmax(1)
  check_close(argmax(a, 0), {1, 1, 2, 2}, {4});  // a.argmax(0): ties keep the first
  check_close(argmin(a, -1), {1, 2, 1}, {3});    // a.argmin(1)
  check_close(argmin(a, 0), {0, 0, 1, 0}, {4});  // a.argmin(0)
  check_close(argmax(a, 1, true), {2, 1, 3}, {3, 1});
  check_close(argmax(transpose(a), 0), {2, 1, 3}, {3});     // a.T.argmax(0)
  check_close(argmin(transpose(a), 1), {0, 0, 1, 0}, {4});  // a.T.argmin(1)
  check_close(argmax(flip(a, {1}), 1), {1, 2, 0}, {3});     // a[:, ::-1].argmax(1)
  check_close(argmax(array({false, true, true}), 0), {1}, {});
  check_throws_with([&] { argmax(a, 2); }, {"[argmax]", "axis 2", "(3,4)"});
  check_throws_with([&] { argmin(zeros({2, 0}), 1); }, {"[argmin]", "empty", "(2,0)"});
}

TEST_CASE("empty reductions", "[reduction]") {
  array e = zeros({0, 3});
  check_close(sum(e, {0}), {0, 0, 0}, {3});
  check_close(prod(e, {0}), {1, 1, 1}, {3});
  check_close(sum(e, {1}), {}, {0});
  check_close(max(e, {1}), {}, {0});  // the reduced axis is not empty
  check_close(all(e), {1}, {});
  check_close(any(e), {0}, {});
  check_close(sum(zeros({0}, int32)), {0}, {});
  CHECK(sum(zeros({0}, uint8)).dtype() == int32);
  check_close(mean(e, {0}), {kNan, kNan, kNan}, {3});  // 0 / 0 like numpy
  check_close(logsumexp(e, {0}), {-kInf, -kInf, -kInf}, {3});
  check_close(softmax(e, 0), {}, {0, 3});
  check_throws_with([&] { max(e); }, {"[max]", "axis 0", "(0,3)"});
  check_throws_with([&] { min(e, {0}); }, {"[min]", "axis 0", "(0,3)"});
  check_throws_with([&] { argmax(e, 0); }, {"[argmax]", "empty", "(0,3)"});
}

TEST_CASE("axis errors name op, axis and shape", "[reduction]") {
  array a = arange24();
  check_throws_with([&] { sum(a, {3}); }, {"[sum]", "axis 3", "(2,3,4)"});
  check_throws_with([&] { max(a, {-4}); }, {"[max]", "axis -4", "(2,3,4)"});
  check_throws_with([&] { mean(a, {0, 0}); }, {"[mean]", "repeated", "(2,3,4)"});
  check_throws_with([&] { var(a, {1, -2}); }, {"[var]", "repeated", "(2,3,4)"});
  check_throws_with([&] { mfx::std(a, {5}); }, {"[std]", "axis 5"});
  check_throws_with([&] { logsumexp(a, {7}); }, {"[logsumexp]", "axis 7"});
  check_throws_with([&] { softmax(a, 3); }, {"[softmax]", "axis 3", "(2,3,4)"});
  check_throws_with([&] { log_softmax(a, {0, 0}); }, {"[log_softmax]", "repeated"});
  check_throws_with([&] { cumsum(a, -4); }, {"[cumsum]", "axis -4", "(2,3,4)"});
  check_throws_with([&] { any(array(), {0}); }, {"[any]", "null"});
}

TEST_CASE("mean, var and std", "[reduction]") {
  // v = np.array([[1, 2, 4, 8], [3, 3, 3, 3], [-1, 0.5, 2, 10]], np.float32)
  array v({1.0f, 2.0f, 4.0f, 8.0f, 3.0f, 3.0f, 3.0f, 3.0f, -1.0f, 0.5f, 2.0f, 10.0f}, {3, 4});
  check_close(mean(v, {1}), {3.75, 3, 2.875}, {3});
  check_close(mean(v, {0}, true), {1, 5.5 / 3, 3, 7}, {1, 4});
  check_close(var(v, {1}), {7.1875, 0.0, 18.046875}, {3});          // v.var(1)
  check_close(var(v, {0}, false, 1), {4, 1.5833333, 1, 13}, {4});   // v.var(0, ddof=1)
  check_close(mfx::std(v), {2.9258782863616943}, {});               // v.std()
  check_close(mfx::std(v, true, 1), {3.0559802055358887}, {1, 1});  // v.std(ddof=1, keepdims)
  check_close(var(v, {1}, false, 4), {kInf, kNan, kInf}, {3});      // ddof == n
  CHECK(var(array({1, 2, 3, 4})).dtype() == float32);
  check_close(var(array({1, 2, 3, 4})), {1.25}, {});
  // Two passes keep the variance of large, close values exact.
  check_close(var(array({1e4f + 1, 1e4f + 2, 1e4f + 3})), {2.0 / 3}, {}, 1e-6, 0);
}

TEST_CASE("logsumexp is stable and handles infinities", "[reduction]") {
  array v({1.0, 2.0, 4.0, 8.0, 3.0, 3.0, 3.0, 3.0, -1.0, 0.5, 2.0, 10.0}, {3, 4});  // float64
  // lse(x) = log(sum(exp(x - m))) + m with m = max(x)
  check_close(logsumexp(v, {1}), {8.021474046393745, 4.386294361119891, 10.000426925013127}, {3},
              1e-12, 0);
  check_close(logsumexp(v, {0}, true),
              {3.1429316284998996, 3.371539031852683, 4.407605964444381, 10.12773087163486}, {1, 4},
              1e-12, 0);
  check_close(logsumexp(v), {10.133085313528843}, {}, 1e-12, 0);
  // rows: large values, all -inf, +inf, -inf mixed with finite values
  array w({1000.0f, 1001.0f, 1002.0f, float(-kInf), float(-kInf), float(-kInf), float(kInf), 1.0f,
           2.0f, float(-kInf), 0.0f, std::log(3.0f)},
          {4, 3});
  check_close(logsumexp(w, {1}), {1002.4076059644444, -kInf, kInf, 1.3862943611198906}, {4}, 1e-6,
              0);
  CHECK(logsumexp(array({1, 2})).dtype() == float32);
  check_close(logsumexp(astype(array({0.0f, 0.0f}), float16)), {std::log(2.0)}, {}, 1e-3, 0);
}

TEST_CASE("softmax and log_softmax", "[reduction]") {
  array v({1.0, 2.0, 4.0, 8.0, 3.0, 3.0, 3.0, 3.0, -1.0, 0.5, 2.0, 10.0}, {3, 4});
  // e = np.exp(v - v.max(axis, keepdims=True)); e / e.sum(axis, keepdims=True)
  check_close(softmax(v, 1),
              {0.0008925089231852927, 0.002426090787632131, 0.01792652093091266, 0.97875487935827,
               0.25, 0.25, 0.25, 0.25, 1.6694571938267437e-05, 7.481988058970572e-05,
               0.0003353194410828833, 0.9995731661063891},
              {3, 4}, 1e-12, 0);
  check_close(softmax(v, 0),
              {0.11731042782619835, 0.25371618163502524, 0.6652409557748218, 0.11910725710152431,
               0.8668133321973347, 0.6896720861245036, 0.24472847105479764, 0.0008025383855565168,
               0.015876239976466762, 0.05661173224047129, 0.09003057317038046, 0.8800902045129191},
              {3, 4}, 1e-12, 0);
  check_close(
      softmax(v, {0, -1}),
      {0.00010803175853816199, 0.00029366076613076105, 0.002169875874995147, 0.1184712085762852,
       0.0007982527243046092, 0.0007982527243046092, 0.0007982527243046092, 0.0007982527243046092,
       1.4620508640311504e-05, 6.55245737760673e-05, 0.00029366076613076105, 0.8753904062782851},
      {3, 4}, 1e-12, 0);
  check_close(log_softmax(v),
              {-7.021474046393744, -6.021474046393744, -4.021474046393745, -0.021474046393744874,
               -1.3862943611198906, -1.3862943611198906, -1.3862943611198906, -1.3862943611198906,
               -11.000426925013127, -9.500426925013127, -8.000426925013127, -0.0004269250131267558},
              {3, 4}, 1e-12, 1e-15);
  // Stable for large inputs; a row of all -inf gives NaN like PyTorch.
  array w({1000.0f, 1001.0f, 1002.0f, float(-kInf), float(-kInf), float(-kInf)}, {2, 3});
  check_close(softmax(w, -1),
              {0.09003057317038046, 0.24472847105479764, 0.6652409557748218, kNan, kNan, kNan},
              {2, 3}, 1e-6, 0);
  check_close(log_softmax(w, -1),
              {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806, kNan, kNan, kNan},
              {2, 3}, 1e-6, 0);
  CHECK(softmax(array({1, 2})).dtype() == float32);
  array h = astype(array({0.0f, 0.0f, 0.0f, 0.0f}), float16);
  CHECK(softmax(h).dtype() == float16);
  check_close(softmax(h), {0.25, 0.25, 0.25, 0.25}, {4}, 0, 0);
  // Over a transposed view: each column of v sums to one.
  check_close(sum(softmax(transpose(v), 1), {1}), {1, 1, 1, 1}, {4}, 1e-12, 0);
}

TEST_CASE("cumsum", "[reduction]") {
  // a = [[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8]]
  array a({3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}, {3, 4});
  check_close(cumsum(a, 0), {3, 1, 4, 1, 8, 10, 6, 7, 13, 13, 11, 15}, {3, 4});   // np.cumsum(a, 0)
  check_close(cumsum(a, -1), {3, 4, 8, 9, 5, 14, 16, 22, 5, 8, 13, 21}, {3, 4});  // np.cumsum(a, 1)
  // np.flip(np.cumsum(np.flip(a, 1), 1), 1)
  check_close(cumsum(a, 1, true), {9, 6, 5, 1, 22, 17, 8, 6, 21, 16, 13, 8}, {3, 4});
  // np.cumsum(a, 1) - a
  check_close(cumsum(a, 1, false, false), {0, 3, 4, 8, 0, 5, 14, 16, 0, 5, 8, 13}, {3, 4});
  // np.flip(np.cumsum(np.flip(a, 1), 1), 1) - a
  check_close(cumsum(a, 1, true, false), {6, 5, 1, 0, 17, 8, 6, 0, 16, 13, 8, 0}, {3, 4});
  // np.flip(np.cumsum(np.flip(a, 0), 0), 0) - a
  check_close(cumsum(a, 0, true, false), {10, 12, 7, 14, 5, 3, 5, 8, 0, 0, 0, 0}, {3, 4});
  check_close(cumsum(transpose(a), 1), {3, 8, 13, 1, 10, 13, 4, 6, 11, 1, 7, 15}, {4, 3});
  check_close(cumsum(array({true, false, true, true}), 0), {1, 1, 2, 3}, {4});
  check_close(cumsum(array({200, 100}, {2}, uint8), 0), {200, 300}, {2});
  check_close(cumsum(array({0.5f, 0.25f, 0.125f}), 0), {0.5, 0.75, 0.875}, {3});
  check_close(cumsum(zeros({0, 3}), 0), {}, {0, 3});
  // Long float32 scans accumulate in double: the last entry equals the sum.
  array x = full({1 << 20}, array(0.1f));  // naive float32: off by 1e-2 relative
  auto c = cumsum(x, 0).to_vector<double>();
  double ref = double(0.1f) * double(1 << 20);
  CHECK(std::abs(c.back() - ref) <= 1e-7 * ref);
}

TEST_CASE("cumsum along a middle axis", "[reduction]") {
  // x = np.arange(2 * 5 * 3).reshape(2, 5, 3) as float16; np.cumsum(x, 1) and the
  // reversed exclusive form np.flip(np.cumsum(np.flip(x, 1), 1), 1) - x
  array x = astype(reshape(arange(0, 30), {2, 5, 3}), float16);
  std::vector<double> inc(30), rex(30);
  for (int o = 0; o < 2; ++o) {
    for (int j = 0; j < 3; ++j) {
      double acc = 0;
      for (int i = 0; i < 5; ++i) inc[(o * 5 + i) * 3 + j] = acc += (o * 5 + i) * 3 + j;
      acc = 0;
      for (int i = 4; i >= 0; --i) {
        rex[(o * 5 + i) * 3 + j] = acc;
        acc += (o * 5 + i) * 3 + j;
      }
    }
  }
  array c = cumsum(x, 1);
  CHECK(c.dtype() == float16);
  check_close(c, inc, {2, 5, 3}, 0, 0);
  check_close(cumsum(x, -2, true, false), rex, {2, 5, 3}, 0, 0);
  check_close(
      cumsum(transpose(astype(x, int32), {0, 2, 1}), 2),
      [&] {
        std::vector<double> t(30);
        for (int o = 0; o < 2; ++o)
          for (int i = 0; i < 5; ++i)
            for (int j = 0; j < 3; ++j) t[(o * 3 + j) * 5 + i] = inc[(o * 5 + i) * 3 + j];
        return t;
      }(),
      {2, 3, 5}, 0, 0);
}

TEST_CASE("array_equal", "[reduction][compare]") {
  array a({1, 2, 3});
  CHECK(array_equal(a, array({1.0f, 2.0f, 3.0f})));  // compared after promotion
  CHECK_FALSE(array_equal(a, array({1, 2, 4})));
  CHECK_FALSE(array_equal(a, array({1, 2, 3}, {3, 1})));  // shapes differ: no broadcasting
  CHECK(array_equal(zeros({0, 2}), zeros({0, 2}, int32)));
  array n({1.0f, float(kNan)});
  CHECK_FALSE(array_equal(n, n));
  CHECK(array_equal(n, n, true));
  CHECK(array_equal(transpose(reshape(arange(0, 6), {2, 3})),
                    array({0.0f, 3.0f, 1.0f, 4.0f, 2.0f, 5.0f}, {3, 2})));
  check_throws_with([&] { array_equal(array(), a); }, {"[array_equal]", "null"});
}

TEST_CASE("allclose", "[reduction][compare]") {
  array a({1.0f, 2.0f, 3.0f});
  CHECK(allclose(a, array({1.0f, 2.0f, 3.0f + 1e-6f})));
  CHECK_FALSE(allclose(a, array({1.0f, 2.0f, 3.001f})));
  CHECK(allclose(a, array({1.0f, 2.0f, 3.001f}), 1e-3));
  CHECK(allclose(array({0.0, 1e-9}), array({1e-9, 0.0})));  // atol
  CHECK_FALSE(allclose(array({0.0, 1e-9}), array({1e-9, 0.0}), 1e-5, 0.0));
  // Broadcasting: np.allclose([[1, 1], [1, 1]], 1)
  CHECK(allclose(ones({2, 2}), array(1)));
  CHECK(allclose(array({kInf, -kInf, 1.0}), array({kInf, -kInf, 1.0})));
  CHECK_FALSE(allclose(array({kInf}), array({-kInf})));
  CHECK_FALSE(allclose(array({kInf}), array({1e308})));
  CHECK_FALSE(allclose(array({kNan}), array({kNan})));
  CHECK(allclose(array({kNan, 1.0}), array({kNan, 1.0}), 1e-5, 1e-8, true));
  // Tolerance is relative to b: np.allclose(10, 10.00009) but not np.allclose(10.1, 10.2)
  CHECK(allclose(array(10.0), array(10.00009)));
  CHECK_FALSE(allclose(array(10.1), array(10.2)));
  check_throws_with(
      [&] {
        allclose(ones({2, 3}), ones({3, 2}));
      },
      {"[allclose]", "(2,3)", "(3,2)"});
}

TEST_CASE("sums of short contiguous rows add in order, bit for bit", "[reduction]") {
  // Rows of 2, 3 and 4 (box coordinates) take an inline loop that must
  // add like the vector kernel does at that length: in order, in the
  // dtype. Enough rows to split over the pool.
  const int64_t rows = 100003;
  for (int64_t n : {2, 3, 4}) {
    array x = random::normal(random::key(static_cast<uint32_t>(n)), {rows, n}) * 1e3f;
    auto xv = x.to_vector<float>();
    auto got32 = sum(x, {1}).to_vector<float>();
    auto got64 = sum(astype(x, float64), {1}).to_vector<double>();
    INFO("n " << n);
    int bad = 0;
    for (int64_t r = 0; r < rows && bad < 5; ++r) {
      float want32 = 0;
      double want64 = 0;
      for (int64_t i = 0; i < n; ++i) {
        want32 += xv[r * n + i];
        want64 += static_cast<double>(xv[r * n + i]);
      }
      if (got32[r] != want32 || got64[r] != want64) {
        ++bad;
        FAIL_CHECK("row " << r << ": " << got32[r] << " vs " << want32 << ", " << got64[r]
                          << " vs " << want64);
      }
    }
    CHECK(bad == 0);
  }
}
