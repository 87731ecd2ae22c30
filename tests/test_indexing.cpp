// Indexing ops: take, take_along_axis, scatter, scatter_add, one_hot, sort,
// argsort, topk. Expected values come from the numpy expression beside them.
#include <cmath>
#include <limits>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::iota;
using mfx::test::values;

namespace {

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ---------------------------------------------------------------- take

TEST_CASE("take along different axes", "[indexing][take]") {
  array a = iota({3, 4});
  // np.take(a, [2, 0, -1], axis=0)
  check_close(take(a, array({2, 0, -1}), 0), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, {3, 4});
  // np.take(a, [[3, 0], [-1, 1]], axis=1): indices of any shape
  check_close(take(a, array({3, 0, -1, 1}, {2, 2}), -1), {3, 0, 3, 1, 7, 4, 7, 5, 11, 8, 11, 9},
              {3, 2, 2});
  array b = iota({2, 3, 4});
  // np.take(b, [2, 0], axis=1)
  check_close(take(b, array({2, 0}), 1), {8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15},
              {2, 2, 4});
  // A 0-d index removes the axis: np.take(np.arange(5), 3)
  check_close(take(arange(5, int32), array(3), 0), {3}, {});
  // Empty indices.
  CHECK(take(a, zeros({0}, int32), 1).shape() == Shape{3, 0});
}

TEST_CASE("take accepts strided inputs and every index dtype", "[indexing][take][strided]") {
  array a = iota({3, 4});
  // np.take(a.T, [1, 1], axis=-1)
  check_close(take(transpose(a), array({1, 1}), -1), {4, 4, 5, 5, 6, 6, 7, 7}, {4, 2});
  // np.take(a[::-1, ::2], [1], axis=1)
  array s = slice(a, {-1, 0}, {-4, 4}, {-1, 2});
  check_close(take(s, array({1}), 1), {10, 6, 2}, {3, 1});
  // np.take(b.transpose(2, 0, 1), [[1], [0]], axis=1)
  array bt = transpose(iota({2, 3, 4}), {2, 0, 1});
  check_close(take(bt, array({1, 0}, {2, 1}), 1), {12, 16, 20, 0, 4, 8,  13, 17, 21, 1, 5, 9,
                                                   14, 18, 22, 2, 6, 10, 15, 19, 23, 3, 7, 11},
              {4, 2, 1, 3});
  // Broadcast (stride 0) input and indices.
  array bc = broadcast_to(array({1.5, 2.5, 3.5}), {2, 3});
  check_close(take(bc, broadcast_to(array({2}), {3}), 1), {3.5, 3.5, 3.5, 3.5, 3.5, 3.5}, {2, 3});
  for (Dtype it : {uint8, int32, int64}) {
    check_close(take(a, astype(array({3, 1}), it), 1), {3, 1, 7, 5, 11, 9}, {3, 2});
  }
  // Every value dtype, halves included.
  for (Dtype t : {bool_, uint8, int32, int64, float16, bfloat16, float32, float64}) {
    array x = astype(array({0, 1, 2, 3}), t);
    array r = take(x, array({-1, 0}), 0);
    CHECK(r.dtype() == t);
    check_close(r, {t == bool_ ? 1.0 : 3.0, 0}, {2});
  }
  check_close(take(astype(array({0.5f, -1.25f}), float16), array({1, 1, 0}), 0),
              {-1.25, -1.25, 0.5}, {3});
}

TEST_CASE("take errors", "[indexing][take][errors]") {
  array a = iota({3, 4});
  check_throws_with([&] { take(a, array({0.5f}), 0); }, {"[take]", "integer", "float32"});
  check_throws_with([&] { take(a, array({true}), 0); }, {"[take]", "integer", "bool"});
  check_throws_with([&] { take(a, array({0}), 2); }, {"[take]", "axis 2", "(3,4)"});
  check_throws_with([&] { take(array(1.0f), array({0}), 0); }, {"[take]", "()"});
  // Index values are checked by the kernel at eval.
  array bad = take(a, array({0, 4}), 1);
  check_throws_with([&] { bad.eval(); }, {"[take]", "index 4", "axis 1", "size 4"});
  array neg = take(a, array({-4}), 0);
  check_throws_with([&] { neg.eval(); }, {"[take]", "index -4", "axis 0", "size 3"});
  array empty_axis = take(zeros({2, 0}), array({0}), 1);
  check_throws_with([&] { empty_axis.eval(); }, {"[take]", "index 0", "axis 1", "size 0"});
  // The failure leaves no half-written result behind: it throws again.
  check_throws_with([&] { bad.eval(); }, {"[take]", "index 4"});
}

// ----------------------------------------------------- take_along_axis

TEST_CASE("take_along_axis follows numpy", "[indexing][take_along_axis]") {
  array x = array({10, 30, 20, 60, 40, 50}, {2, 3});
  // np.take_along_axis(x, np.argsort(x, axis=1), axis=1)
  check_close(take_along_axis(x, argsort(x, 1), 1), {10, 20, 30, 40, 50, 60}, {2, 3});
  // np.take_along_axis(x, [[0], [2]], axis=1)
  check_close(take_along_axis(x, array({0, 2}, {2, 1}), -1), {10, 50}, {2, 1});
  // np.take_along_axis(x, [[1, 0, 1]], axis=0)
  check_close(take_along_axis(x, array({1, 0, 1}, {1, 3}), 0), {60, 30, 50}, {1, 3});
  // np.take_along_axis(x, [[-1, 0]], axis=1): the index row broadcasts over rows
  check_close(take_along_axis(x, array({-1, 0}, {1, 2}), 1), {20, 10, 50, 60}, {2, 2});
  // a broadcasts too: np.take_along_axis([[1], [2]], np.zeros((2, 3), int), axis=0)
  check_close(take_along_axis(array({1, 2}, {2, 1}), zeros({2, 3}, int64), 0), {1, 1, 1, 1, 1, 1},
              {2, 3});
  // Transposed input: np.take_along_axis(x.T, [[1, 0], [0, 0]], axis=0)
  check_close(take_along_axis(transpose(x), astype(array({1, 0, 0, 0}, {2, 2}), uint8), 0),
              {30, 60, 10, 60}, {2, 2});
  array h = astype(array({0.5f, 1.5f, 2.5f}), bfloat16);
  array hr = take_along_axis(h, array({2, 2, 0}), 0);
  CHECK(hr.dtype() == bfloat16);
  check_close(hr, {2.5, 2.5, 0.5}, {3});
}

TEST_CASE("take_along_axis errors", "[indexing][take_along_axis][errors]") {
  array x = iota({2, 3});
  auto wrong_rank = [&] { take_along_axis(x, array({0, 1}), 1); };
  check_throws_with(wrong_rank, {"[take_along_axis]", "(2)", "(2,3)", "dimensions"});
  auto wrong_rows = [&] { take_along_axis(x, zeros({3, 1}, int32), 1); };
  check_throws_with(wrong_rows, {"[take_along_axis]", "(3,1)", "(2,3)"});
  auto float_idx = [&] { take_along_axis(x, zeros({2, 1}, float32), 1); };
  check_throws_with(float_idx, {"[take_along_axis]", "integer", "float32"});
  array bad = take_along_axis(x, array({0, 3}, {2, 1}), 1);
  check_throws_with([&] { bad.eval(); }, {"[take_along_axis]", "index 3", "axis 1", "size 3"});
}

// ------------------------------------------------------------- scatter

TEST_CASE("scatter writes along an axis; the last duplicate wins", "[indexing][scatter]") {
  // a = np.zeros((3, 4), np.int32)
  // np.put_along_axis(a, [[1, 3], [0, 0], [-1, 2]], [[5, 6], [7, 8], [9, 10]], axis=1)
  array z = zeros({3, 4}, int32);
  array r = scatter(z, array({1, 3, 0, 0, -1, 2}, {3, 2}), array({5, 6, 7, 8, 9, 10}, {3, 2}), 1);
  CHECK(r.dtype() == int32);
  check_close(r, {0, 5, 0, 6, 8, 0, 0, 0, 0, 0, 10, 9}, {3, 4});
  // a = np.arange(12.).reshape(3, 4)
  // np.put_along_axis(a, [[2, 0, 1, 2]], [[-1, -2, -3, -4]], axis=0)
  array a = astype(iota({3, 4}), float32);
  check_close(scatter(a, array({2, 0, 1, 2}, {1, 4}), array({-1.f, -2.f, -3.f, -4.f}, {1, 4}), 0),
              {0, -2, 2, 3, 4, 5, -3, 7, -1, 9, 10, -4}, {3, 4});
  // Scalar updates broadcast: np.put_along_axis(a, [[0], [3], [1]], 100, axis=1)
  check_close(scatter(a, array({0, 3, 1}, {3, 1}), array(100), -1),
              {100, 1, 2, 3, 4, 5, 6, 100, 8, 100, 10, 11}, {3, 4});
  // The input is not modified (scatter returns a copy).
  check_close(a, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  // Size-1 index dims broadcast over a's dims: a column of indices per row.
  check_close(scatter(zeros({2, 3}), array({1}, {1, 1}), array({4.f, 5.f}, {2, 1}), 1),
              {0, 4, 0, 0, 5, 0}, {2, 3});
}

TEST_CASE("scatter and scatter_add on strided inputs and all dtypes",
          "[indexing][scatter][strided]") {
  // A transposed base, a broadcast index array and flipped updates.
  array base = transpose(iota({3, 2}));  // [[0, 2, 4], [1, 3, 5]]
  array idx = broadcast_to(array({2, 0}, {1, 2}), {2, 2});
  array upd = flip(array({1, 2, 3, 4}, {2, 2}), {1});  // [[2, 1], [4, 3]]
  // np.put_along_axis(base.copy(), idx, upd, axis=1)
  check_close(scatter(base, idx, upd, 1), {1, 2, 2, 3, 3, 4}, {2, 3});
  check_close(scatter_add(base, idx, upd, 1), {1, 2, 6, 4, 3, 9}, {2, 3});
  // The updates convert to a's dtype.
  array ri = scatter(zeros({3}, int32), array({1}), array({2.75f}), 0);
  CHECK(ri.dtype() == int32);
  check_close(ri, {0, 2, 0}, {3});
  for (Dtype t : {uint8, int32, int64, float16, bfloat16, float32, float64}) {
    array x = astype(array({1, 2, 3}), t);
    array s = scatter_add(x, array({0, 2, 0}), astype(array({5, 6, 7}), t), 0);
    CHECK(s.dtype() == t);
    check_close(s, {13, 2, 9}, {3});
    check_close(scatter(x, array({2}), astype(array({4}), t), 0), {1, 2, 4}, {3});
  }
  // bool accumulates with logical or.
  array bs = scatter_add(array({false, false, true}), array({0, 0}), array({false, true}), 0);
  CHECK(bs.dtype() == bool_);
  check_close(bs, {1, 0, 1}, {3});
}

TEST_CASE("scatter_add accumulates duplicates", "[indexing][scatter]") {
  // a = np.ones((2, 4), np.float32); rows = np.arange(2)[:, None]
  // np.add.at(a, (rows, [[1, 1, 3], [0, 2, 0]]), [[1, 2, 3], [4, 5, 6]])
  array r = scatter_add(ones({2, 4}), array({1, 1, 3, 0, 2, 0}, {2, 3}),
                        array({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}), 1);
  check_close(r, {1, 4, 1, 4, 11, 1, 6, 1}, {2, 4});
  // Along axis 0 with a 3-d array: a[idx[i,j,k], j, k] += u[i,j,k]
  array idx = array({0, 2, 0, 2, 1, 2}, {3, 2, 1});
  array u = array({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 2, 1});
  // a = np.zeros((3, 2, 1)); np.add.at(a, (idx, np.arange(2)[None, :, None], 0), u)
  check_close(scatter_add(zeros({3, 2, 1}, float64), idx, u, -3), {4, 0, 5, 0, 0, 12}, {3, 2, 1});
  check_close(scatter(zeros({3, 2, 1}, float64), idx, u, 0), {3, 0, 5, 0, 0, 6}, {3, 2, 1});
}

TEST_CASE("large scatters split over rows equal a serial loop", "[indexing][scatter]") {
  // 2000 rows of 40 updates into 91 classes (enough to split over the pool),
  // with duplicates within a row: the sums and the last-duplicate rule hold.
  const int64_t R = 2000, M = 40, K = 91;
  std::vector<int64_t> ids(R * M);
  std::vector<double> upd(R * M);
  for (int64_t i = 0; i < R * M; ++i) {
    ids[i] = (i * 7 + i / M) % K % 23;  // only 23 distinct classes: many duplicates
    upd[i] = ((i * 13) % 17) * 0.125 - 1.0;
  }
  std::vector<double> base(R * K), added(R * K), last(R * K);
  for (int64_t i = 0; i < R * K; ++i) base[i] = (i % 5) * 0.5;
  added = last = base;
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t j = 0; j < M; ++j) {
      added[r * K + ids[r * M + j]] += upd[r * M + j];
      last[r * K + ids[r * M + j]] = upd[r * M + j];
    }
  }
  array a(base, {R, K}), idx(ids, {R, M}), u(upd, {R, M});
  check_close(scatter_add(a, idx, u, 1), added, {R, K}, 0, 0);
  check_close(scatter(a, idx, u, 1), last, {R, K}, 0, 0);
  // The same along axis 0 of the transposed layout (strided updates).
  check_close(transpose(scatter_add(transpose(a), transpose(idx), transpose(u), 0)), added, {R, K},
              0, 0);
}

TEST_CASE("take_along_axis and scatter_add with an index broadcast over rows", "[indexing]") {
  // The matching criteria's shape: logits [B, N, K] gathered at each
  // ground truth's class, an index [B, 1, M] broadcast over the N queries
  // (kept unexpanded), and its transpose scatter_add. Against loops; enough
  // rows to split over the pool; a bad index in the broadcast row throws.
  const int64_t B = 3, N = 700, K = 11, M = 9;
  std::vector<double> xv(B * N * K);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<double>((i * 37) % 101) - 50;
  std::vector<int32_t> lab(B * M);
  for (int64_t i = 0; i < B * M; ++i) lab[i] = static_cast<int32_t>((i * 5) % K) - (i % 4 == 0 ? K : 0);
  array x(xv, {B, N, K});
  array idx = broadcast_to(array(lab, {B, 1, M}), {B, N, M});
  std::vector<double> picked(B * N * M), added(B * N * K, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m) {
        const int64_t k = (lab[b * M + m] + K) % K;  // negative indices wrap
        picked[(b * N + n) * M + m] = xv[(b * N + n) * K + k];
        added[(b * N + n) * K + k] += 0.5 * m;
      }
  check_close(take_along_axis(x, idx, 2), picked, {B, N, M}, 0, 0);
  array u = broadcast_to(reshape(arange(0, M, 1, float64) * 0.5, {1, 1, M}), {B, N, M});
  check_close(scatter_add(zeros({B, N, K}, float64), idx, u, 2), added, {B, N, K}, 0, 0);
  lab[B * M - 1] = static_cast<int32_t>(K);
  array bad = take_along_axis(x, broadcast_to(array(lab, {B, 1, M}), {B, N, M}), 2);
  check_throws_with([&] { bad.eval(); }, {"[take_along_axis]", "index 11", "axis 2", "size 11"});
}

TEST_CASE("scatter errors", "[indexing][scatter][errors]") {
  array a = zeros({3, 4});
  check_throws_with([&] { scatter(a, array({0}), array({1.f}), 1); },
                    {"[scatter]", "(1)", "(3,4)", "dimensions"});
  auto bad_idx_dim = [&] { scatter_add(a, zeros({2, 1}, int32), array(1.f), 1); };
  check_throws_with(bad_idx_dim, {"[scatter_add]", "(2,1)", "(3,4)", "axis 1"});
  auto bad_updates = [&] { scatter(a, zeros({3, 2}, int32), zeros({3, 3}), 1); };
  check_throws_with(bad_updates, {"[scatter]", "updates", "(3,3)", "(3,2)"});
  auto float_scatter_idx = [&] { scatter(a, zeros({3, 2}, float32), zeros({3, 2}), 1); };
  check_throws_with(float_scatter_idx, {"[scatter]", "integer", "float32"});
  auto bad_axis = [&] { scatter(a, zeros({3, 2}, int32), zeros({3, 2}), -3); };
  check_throws_with(bad_axis, {"[scatter]", "axis -3", "(3,4)"});
  array bad = scatter_add(a, array({0, 5, 1}, {3, 1}), array(1.f), 1);
  check_throws_with([&] { bad.eval(); }, {"[scatter_add]", "index 5", "axis 1", "size 4"});
  array bad2 = scatter(a, array({-4}, {1, 1}), array(1.f), 0);
  check_throws_with([&] { bad2.eval(); }, {"[scatter]", "index -4", "axis 0", "size 3"});
}

// ------------------------------------------------------------- one_hot

TEST_CASE("one_hot", "[indexing][one_hot]") {
  // (i[..., None] == np.arange(3)).astype(np.float32), i = [[0, 2], [3, -1]]
  array oh = one_hot(array({0, 2, 3, -1}, {2, 2}), 3);
  CHECK(oh.dtype() == float32);
  check_close(oh, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, {2, 2, 3});
  array ob = one_hot(astype(array({1, 0}), uint8), 2, bool_);
  CHECK(ob.dtype() == bool_);
  check_close(ob, {0, 1, 1, 0}, {2, 2});
  // Transposed indices [[0, 0], [1, 0]].
  array oi = one_hot(transpose(astype(array({0, 1, 0, 0}, {2, 2}), int64)), 2, int32);
  CHECK(oi.dtype() == int32);
  check_close(oi, {1, 0, 1, 0, 0, 1, 1, 0}, {2, 2, 2});
  CHECK(one_hot(array({1}), 0).shape() == Shape{1, 0});
  check_throws_with([] { one_hot(array({1.f}), 3); }, {"[one_hot]", "integer", "float32"});
  check_throws_with([] { one_hot(array({1}), -1); }, {"[one_hot]", "-1"});
}

// ------------------------------------------------------ sort / argsort

TEST_CASE("sort and argsort along several axes", "[indexing][sort]") {
  array x = array({3.f, 1.f, 2.f, 1.f, 0.f, -5.f, 7.f, 7.f, 2.f, 2.f, 2.f, -1.f}, {3, 4});
  // np.sort(x, axis=1), np.argsort(x, axis=1, kind='stable')
  check_close(sort(x), {1, 1, 2, 3, -5, 0, 7, 7, -1, 2, 2, 2}, {3, 4});
  check_close(argsort(x, 1), {1, 3, 2, 0, 1, 0, 2, 3, 3, 0, 1, 2}, {3, 4});
  // np.sort(x, axis=0), np.argsort(x, axis=0, kind='stable')
  check_close(sort(x, 0), {0, -5, 2, -1, 2, 1, 2, 1, 3, 2, 7, 7}, {3, 4});
  check_close(argsort(x, -2), {1, 1, 0, 2, 2, 0, 2, 0, 0, 2, 1, 1}, {3, 4});
  CHECK(argsort(x).dtype() == int32);
  CHECK(sort(x).dtype() == float32);
  // b = np.arange(24).reshape(2, 3, 4) % 5: the middle axis
  array b = remainder(iota({2, 3, 4}), array(5));
  check_close(sort(b, 1), {0, 0, 0, 1, 3, 1, 1, 2, 4, 4, 2, 3, 0, 1, 2, 0, 1, 2, 3, 3, 2, 3, 4, 4},
              {2, 3, 4});
  check_close(argsort(b, 1),
              {0, 1, 2, 2, 2, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2, 0, 1, 1, 1, 2, 0, 0, 0, 1}, {2, 3, 4});
}

TEST_CASE("sort and argsort accept strided inputs", "[indexing][sort][strided]") {
  array b = remainder(iota({2, 3, 4}), array(5));
  // v = b.transpose(2, 0, 1)[::-1]; np.sort(v, -1), np.argsort(v, -1, kind='stable')
  array v = flip(transpose(b, {2, 0, 1}), {0});
  check_close(sort(v, -1), {1, 2, 3, 0, 3, 4, 0, 1, 2, 2, 3, 4, 0, 1, 4, 1, 2, 3, 0, 3, 4, 0, 1, 2},
              {4, 2, 3});
  check_close(argsort(v, -1),
              {2, 1, 0, 0, 2, 1, 2, 1, 0, 2, 1, 0, 1, 0, 2, 2, 1, 0, 0, 2, 1, 2, 1, 0}, {4, 2, 3});
  array bc = broadcast_to(array({3, 1, 2}), {2, 3});
  check_close(sort(bc), {1, 2, 3, 1, 2, 3}, {2, 3});
  check_close(argsort(bc, 0), {0, 0, 0, 1, 1, 1}, {2, 3});
  // An empty axis and an empty batch.
  CHECK(sort(zeros({2, 0})).shape() == Shape{2, 0});
  check_close(argsort(zeros({0, 3}), 1), {}, {0, 3});
}

TEST_CASE("sort puts NaN last; halves, bool and uint8 sort by value", "[indexing][sort]") {
  array n = array({kNan, 1.0, -kInf, kNan, 0.0, kInf, -1.0});
  // np.sort(n), np.argsort(n, kind='stable')
  check_close(sort(n), {-kInf, -1, 0, 1, kInf, kNan, kNan}, {7});
  check_close(argsort(n), {2, 6, 4, 1, 5, 0, 3}, {7});
  check_close(sort(astype(n, float16)), {-kInf, -1, 0, 1, kInf, kNan, kNan}, {7});
  check_close(argsort(astype(n, bfloat16)), {2, 6, 4, 1, 5, 0, 3}, {7});
  // h = np.array([0.5, -2, 1e-3, 65504, -0.25], np.float16)
  array h = astype(array({0.5, -2.0, 1e-3, 65504.0, -0.25}), float16);
  array hs = sort(h);
  CHECK(hs.dtype() == float16);
  check_close(hs, {-2.0, -0.25, 0.0010004043579101562, 0.5, 65504.0}, {5}, 0, 0);
  check_close(argsort(h), {1, 4, 2, 0, 3}, {5});
  array bo = array({true, false, true, false});
  CHECK(sort(bo).dtype() == bool_);
  check_close(sort(bo), {0, 0, 1, 1}, {4});
  check_close(argsort(bo), {1, 3, 0, 2}, {4});
  array u = astype(array({200, 3, 255, 0, 3}), uint8);
  check_close(sort(u), {0, 3, 3, 200, 255}, {5});
  check_close(argsort(u), {3, 1, 4, 0, 2}, {5});
  array i64 = astype(array({5, -3, 5, 0}), int64);
  check_close(sort(i64), {-3, 0, 5, 5}, {4});
  check_close(argsort(i64), {1, 3, 0, 2}, {4});
}

TEST_CASE("sort errors", "[indexing][sort][errors]") {
  check_throws_with([] { sort(array(1.0f)); }, {"[sort]", "axis -1", "()"});
  check_throws_with([] { argsort(zeros({2, 3}), 2); }, {"[argsort]", "axis 2", "(2,3)"});
}

// ---------------------------------------------------------------- topk

TEST_CASE("topk values and indices", "[indexing][topk]") {
  array x = array({3.f, 1.f, 2.f, 1.f, 0.f, -5.f, 7.f, 7.f, 2.f, 2.f, 2.f, -1.f}, {3, 4});
  // Reference: per row, indices sorted by (-value, index); values gathered.
  auto [v, i] = topk(x, 2);
  CHECK(v.dtype() == float32);
  CHECK(i.dtype() == int32);
  check_close(v, {3, 2, 7, 7, 2, 2}, {3, 2});
  check_close(i, {0, 2, 2, 3, 0, 1}, {3, 2});
  auto [v0, i0] = topk(x, 2, 0);
  check_close(v0, {3, 2, 7, 7, 2, 1, 2, 1}, {2, 4});
  check_close(i0, {0, 2, 1, 1, 2, 0, 0, 0}, {2, 4});
  // k = n is a full descending sort with ties by position.
  auto [va, ia] = topk(x, 4, -1);
  check_close(va, {3, 2, 1, 1, 7, 7, 0, -5, 2, 2, 2, -1}, {3, 4});
  check_close(ia, {0, 2, 1, 3, 2, 3, 0, 1, 0, 1, 2, 3}, {3, 4});
  auto [ve, ie] = topk(x, 0, 1);
  CHECK(ve.shape() == Shape{3, 0});
  CHECK(ie.shape() == Shape{3, 0});
  eval({ve, ie});
  // NaN ranks above +inf.
  auto [vn, in] = topk(array({1.0, kNan, kInf, -1.0, kNan}), 3);
  check_close(vn, {kNan, kNan, kInf}, {3});
  check_close(in, {1, 4, 2}, {3});
}

TEST_CASE("topk on strided inputs and other dtypes", "[indexing][topk][strided]") {
  array b = remainder(iota({2, 3, 4}), array(5));
  // The flipped transpose from the sort test, k = 2 along the last axis.
  auto [v, i] = topk(flip(transpose(b, {2, 0, 1}), {0}), 2, -1);
  check_close(v, {3, 2, 4, 3, 2, 1, 4, 3, 4, 1, 3, 2, 4, 3, 2, 1}, {4, 2, 2});
  check_close(i, {0, 1, 1, 2, 0, 1, 0, 1, 2, 0, 0, 1, 1, 2, 0, 1}, {4, 2, 2});
  CHECK(v.dtype() == int32);
  auto [vm, im] = topk(b, 2, 1);
  check_close(vm, {4, 4, 2, 3, 3, 1, 1, 2, 2, 3, 4, 4, 1, 2, 3, 3}, {2, 2, 4});
  check_close(im, {1, 2, 0, 0, 2, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 2}, {2, 2, 4});
  array h = astype(array({0.5, -2.0, 1e-3, 65504.0, -0.25}), float16);
  auto [vh, ih] = topk(h, 2);
  CHECK(vh.dtype() == float16);
  check_close(vh, {65504, 0.5}, {2});
  check_close(ih, {3, 0}, {2});
  auto [vb, ib] = topk(array({false, true, true}), 1);
  check_close(vb, {1}, {1});
  check_close(ib, {1}, {1});
}

TEST_CASE("topk errors", "[indexing][topk][errors]") {
  array x = zeros({3, 4});
  check_throws_with([&] { topk(x, 5, 1); }, {"[topk]", "k = 5", "axis 1", "size 4", "(3,4)"});
  check_throws_with([&] { topk(x, -1); }, {"[topk]", "k = -1", "size 4"});
  check_throws_with([&] { topk(x, 1, 2); }, {"[topk]", "axis 2", "(3,4)"});
}
