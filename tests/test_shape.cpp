// Shape ops that join, cut and replicate arrays: concatenate, stack, split,
// pad, repeat, tile. Expected values come from the numpy expression beside them.
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;
using mfx::test::iota;
using mfx::test::values;

TEST_CASE("concatenate values along several axes", "[shape]") {
  array a = iota({2, 3});
  array b = iota({2, 2}) + 10;
  // np.concatenate([a, b], axis=1)
  check_close(concatenate({a, b}, 1), {0, 1, 2, 10, 11, 3, 4, 5, 12, 13}, {2, 5});
  check_close(concatenate({a, b}, -1), {0, 1, 2, 10, 11, 3, 4, 5, 12, 13}, {2, 5});
  // np.concatenate([a, a * 10], axis=0)
  check_close(concatenate({a, a * 10}), {0, 1, 2, 3, 4, 5, 0, 10, 20, 30, 40, 50}, {4, 3});
  // Three inputs, one of them empty along the axis.
  array e = zeros({2, 0}, int32);
  check_close(concatenate({e, a, e, b}, 1), {0, 1, 2, 10, 11, 3, 4, 5, 12, 13}, {2, 5});
  // A single array comes back unchanged.
  check_close(concatenate({a}), {0, 1, 2, 3, 4, 5}, {2, 3});
}

TEST_CASE("concatenate accepts strided views", "[shape][strided]") {
  array a = iota({2, 3});
  array t = transpose(iota({3, 2}));  // [[0,2,4],[1,3,5]]
  // np.concatenate([np.arange(6).reshape(3,2).T, a], axis=-1)
  check_close(concatenate({t, a}, -1), {0, 2, 4, 0, 1, 2, 1, 3, 5, 3, 4, 5}, {2, 6});
  array bc = broadcast_to(array({1, 2, 3}), {2, 3});
  array fl = flip(a, {1});
  // np.concatenate([np.broadcast_to([1,2,3], (2,3)), a[:, ::-1]], axis=0)
  check_close(concatenate({bc, fl}, 0), {1, 2, 3, 1, 2, 3, 2, 1, 0, 5, 4, 3}, {4, 3});
  array sl = slice(iota({4, 4}), {1, 0}, {4, 4}, {2, 3});  // rows 1,3; cols 0,3
  // x = np.arange(16).reshape(4,4); np.concatenate([x[1::2, ::3], x[1::2, ::3]], 1)
  check_close(concatenate({sl, sl}, 1), {4, 7, 4, 7, 12, 15, 12, 15}, {2, 4});
}

TEST_CASE("concatenate promotes dtypes", "[shape][dtype]") {
  array i = array({1, 2});
  array f = array({0.5f});
  array c = concatenate({i, f});
  CHECK(c.dtype() == float32);
  check_close(c, {1, 2, 0.5}, {3});
  array h = astype(array({1.5f, -2.0f}), float16);
  array bf = astype(array({0.25f}), bfloat16);
  CHECK(concatenate({h, h}).dtype() == float16);
  array hb = concatenate({h, bf});
  CHECK(hb.dtype() == float32);  // float16 with bfloat16 gives float32
  check_close(hb, {1.5, -2, 0.25}, {3});
  array u = astype(array({200, 3}), uint8);
  array bo = array({true, false});
  CHECK(concatenate({bo, u}).dtype() == uint8);
  check_close(concatenate({bo, u}), {1, 0, 200, 3}, {4});
  CHECK(concatenate({u, astype(array({1}), int64)}).dtype() == int64);
  CHECK(concatenate({bo, bo}).dtype() == bool_);
  check_close(concatenate({bo, bo}), {1, 0, 1, 0}, {4});
  array d = concatenate({h, array({1.0})});
  CHECK(d.dtype() == float64);
  check_close(d, {1.5, -2, 1}, {3});
}

TEST_CASE("concatenate errors name all shapes", "[shape][errors]") {
  check_throws_with([] { concatenate({}); }, {"[concatenate]", "at least one"});
  auto mixed_rank = [] { concatenate({iota({2, 3}), iota({3})}); };
  check_throws_with(mixed_rank, {"[concatenate]", "number of dimensions", "(2,3), (3)"});
  auto mismatch = [] { concatenate({iota({2, 3}), iota({2, 4}), iota({3, 3})}, 0); };
  check_throws_with(mismatch, {"[concatenate]", "(2,3), (2,4), (3,3)", "axis 0"});
  auto bad_axis = [] { concatenate({iota({2, 3}), iota({2, 3})}, 2); };
  check_throws_with(bad_axis, {"[concatenate]", "axis 2", "(2,3)"});
  auto scalars = [] { concatenate({array(1.0f), array(2.0f)}); };
  check_throws_with(scalars, {"[concatenate]", "zero-dimensional", "(), ()"});
}

TEST_CASE("stack inserts a new axis", "[shape]") {
  array a = iota({2, 3});
  array b = a + 10;
  // np.stack([a, a + 10], axis=1)
  check_close(stack({a, b}, 1), {0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15}, {2, 2, 3});
  // np.stack([a, a + 10], axis=-1)
  check_close(stack({a, b}, -1), {0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15}, {2, 3, 2});
  check_close(stack({a, b}), {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15}, {2, 2, 3});
  // Scalars stack into a vector; dtypes promote.
  array s = stack({array(1), array(2.5f)});
  CHECK(s.dtype() == float32);
  check_close(s, {1, 2.5}, {2});
  check_throws_with([&] { stack({a, iota({3, 2})}); }, {"[stack]", "(2,3), (3,2)"});
  check_throws_with([&] { stack({a, b}, 3); }, {"[stack]", "axis 3"});
  check_throws_with([] { stack({}); }, {"[stack]", "at least one"});
}

TEST_CASE("split by count and by indices", "[shape]") {
  array x = iota({3, 4});
  auto parts = split(x, 2, 1);
  REQUIRE(parts.size() == 2);
  check_close(parts[0], {0, 1, 4, 5, 8, 9}, {3, 2});
  check_close(parts[1], {2, 3, 6, 7, 10, 11}, {3, 2});
  auto rows = split(x, 3, -2);
  REQUIRE(rows.size() == 3);
  check_close(rows[2], {8, 9, 10, 11}, {1, 4});
  // [p.ravel() for p in np.split(x, [1, -1], axis=1)]
  auto p = split(x, std::vector<int64_t>{1, -1}, 1);
  REQUIRE(p.size() == 3);
  check_close(p[0], {0, 4, 8}, {3, 1});
  check_close(p[1], {1, 2, 5, 6, 9, 10}, {3, 2});
  check_close(p[2], {3, 7, 11}, {3, 1});
  // np.split(x, [2, 10], axis=0): clamped bounds give an empty last part
  auto q = split(x, std::vector<int64_t>{2, 10}, 0);
  REQUIRE(q.size() == 3);
  CHECK(q[0].shape() == Shape{2, 4});
  CHECK(q[1].shape() == Shape{1, 4});
  CHECK(q[2].shape() == Shape{0, 4});
  check_close(q[1], {8, 9, 10, 11}, {1, 4});
  // np.split(x, [3, 1], axis=1): a decreasing bound gives an empty middle part
  auto r = split(x, std::vector<int64_t>{3, 1}, 1);
  check_close(r[0], {0, 1, 2, 4, 5, 6, 8, 9, 10}, {3, 3});
  CHECK(r[1].shape() == Shape{3, 0});
  check_close(r[2], {1, 2, 3, 5, 6, 7, 9, 10, 11}, {3, 3});
  // No indices: the whole array.
  auto w = split(x, std::vector<int64_t>{}, 0);
  REQUIRE(w.size() == 1);
  check_close(w[0], values(x), {3, 4});
  // A transposed input: np.split(np.arange(6).reshape(2,3).T, 3, axis=0)
  auto t = split(transpose(iota({2, 3})), 3, 0);
  check_close(t[1], {1, 4}, {1, 2});
}

TEST_CASE("split errors", "[shape][errors]") {
  array x = iota({3, 4});
  check_throws_with([&] { split(x, 3, 1); }, {"[split]", "(3,4)", "3 equal parts", "axis 1"});
  check_throws_with([&] { split(x, 0, 1); }, {"[split]", "positive"});
  check_throws_with([&] { split(x, 2, 2); }, {"[split]", "axis 2", "(3,4)"});
  check_throws_with([&] { split(x, std::vector<int64_t>{1}, -3); }, {"[split]", "axis -3"});
}

TEST_CASE("split outputs are views of the input buffer", "[shape][views]") {
  array x = iota({4, 6});
  x.eval();
  auto parts = split(x, 3, 1);
  auto rows = split(x, std::vector<int64_t>{1, 3}, 0);
  eval({parts[0], parts[1], parts[2], rows[0], rows[1], rows[2]});
  for (auto& p : parts) CHECK(p.buffer().get() == x.buffer().get());
  for (auto& p : rows) CHECK(p.buffer().get() == x.buffer().get());
  // Column blocks are strided views into the same memory, not copies.
  CHECK_FALSE(parts[1].flags().row_contiguous);
  CHECK(parts[1].strides() == Strides{6, 1});
  CHECK(parts[1].offset() == x.offset() + 2);
  CHECK(rows[1].flags().row_contiguous);
  CHECK(rows[1].offset() == x.offset() + 6);
  check_close(parts[1], {2, 3, 8, 9, 14, 15, 20, 21}, {4, 2});
}

namespace {

// A two-output primitive that counts its kernel runs: out0 = x, out1 = 2x.
struct CountingPair : Primitive {
  int* runs;
  explicit CountingPair(int* r) : runs(r) {}
  std::string name() const override { return "CountingPair"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override {
    ++*runs;
    array x = in[0];
    auto v = x.to_vector<float>();
    for (int k = 0; k < 2; ++k) {
      out[k].allocate();
      float* p = static_cast<float*>(out[k].raw_data());
      for (size_t i = 0; i < v.size(); ++i) p[i] = v[i] * static_cast<float>(k + 1);
    }
  }
};

}  // namespace

TEST_CASE("a multi-output primitive runs its kernel once for all outputs", "[shape][multi]") {
  int runs = 0;
  array x({1.f, 2.f, 3.f});
  auto outs = array::make_arrays({{3}, {3}}, {float32, float32},
                                 std::make_shared<CountingPair>(&runs), {x});
  outs[0].eval();
  CHECK(runs == 1);
  CHECK(outs[1].is_evaluated());
  outs[1].eval();
  CHECK(runs == 1);
  check_close(outs[1], {2, 4, 6}, {3});
  check_close(outs[0], {1, 2, 3}, {3});
  CHECK(runs == 1);

  // topk: values and indices are siblings of one TopK node; evaluating
  // either one produces both.
  array a = array({3.f, 1.f, 4.f, 1.f, 5.f, 9.f, 2.f, 6.f}, {2, 4});
  auto [v, i] = topk(a, 2);
  REQUIRE(v.has_primitive());
  CHECK(v.primitive_ptr() == i.primitive_ptr());
  CHECK(v.primitive().name() == "TopK");
  CHECK(v.output_index() == 0);
  CHECK(i.output_index() == 1);
  CHECK_FALSE(i.is_evaluated());
  v.eval();
  CHECK(i.is_evaluated());
  CHECK_FALSE(i.has_primitive());  // detached: nothing left to run
  check_close(v, {4, 3, 9, 6}, {2, 2});
  check_close(i, {2, 0, 1, 3}, {2, 2});
  // Only one output held: the other one's kernel output is discarded safely.
  auto only_indices = topk(a, 1, 0).second;
  check_close(only_indices, {1, 1, 0, 1}, {1, 4});
}

TEST_CASE("pad with a constant", "[shape]") {
  array a = iota({2, 3});
  // np.pad(a, ((1, 0), (2, 1)), constant_values=-1)
  check_close(pad(a, {{1, 0}, {2, 1}}, array(-1)),
              {-1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 2, -1, -1, -1, 3, 4, 5, -1}, {3, 6});
  // np.pad(a[:, ::-1], ((0, 1), (1, 1)), constant_values=7)
  check_close(pad(flip(a, {1}), {{0, 1}, {1, 1}}, array(7)),
              {7, 2, 1, 0, 7, 7, 5, 4, 3, 7, 7, 7, 7, 7, 7}, {3, 5});
  // np.pad(a.T, 1): one pair applies to every axis, value 0 by default
  array t = pad(transpose(a), {{1, 1}});
  CHECK(t.dtype() == int32);
  check_close(t, {0, 0, 0, 0, 0, 0, 3, 0, 0, 1, 4, 0, 0, 2, 5, 0, 0, 0, 0, 0}, {5, 4});
  // Halves: np.pad(np.array([1.5, 2.5], np.float16), (2, 1), constant_values=0.25)
  array h = pad(astype(array({1.5f, 2.5f}), float16), {{2, 1}}, array(0.25));
  CHECK(h.dtype() == float16);
  check_close(h, {0.25, 0.25, 1.5, 2.5, 0.25}, {5});
  array bh = pad(astype(array({1.5f}), bfloat16), {{1, 1}}, array(-3.0f));
  CHECK(bh.dtype() == bfloat16);
  check_close(bh, {-3, 1.5, -3}, {3});
  // The value converts to the array's dtype (numpy casts it too).
  check_close(pad(array({1, 2}), {{1, 0}}, array(2.7f)), {2, 1, 2}, {3});
  check_close(pad(array({true}), {{0, 2}}, array(true)), {1, 1, 1}, {3});
  // A broadcast input and an empty input.
  check_close(pad(broadcast_to(array({5.0}), {2, 2}), {{0, 0}, {0, 1}}, array(1.0)),
              {5, 5, 1, 5, 5, 1}, {2, 3});
  check_close(pad(zeros({0, 2}), {{1, 1}, {0, 0}}, array(4.0f)), {4, 4, 4, 4}, {2, 2});
  // Zero widths: nothing to do.
  check_close(pad(a, {{0, 0}, {0, 0}}), values(a), {2, 3});
}

TEST_CASE("pad errors", "[shape][errors]") {
  array a = iota({2, 3});
  check_throws_with([&] { pad(a, {{1, 1}, {0, -1}}); }, {"[pad]", "negative", "axis 1", "(2,3)"});
  check_throws_with([&] { pad(a, {{1, 1}, {0, 1}, {0, 0}}); }, {"[pad]", "3", "(2,3)"});
  check_throws_with([&] { pad(a, {{1, 1}}, array({1, 2})); }, {"[pad]", "scalar", "(2)"});
}

TEST_CASE("repeat along an axis", "[shape]") {
  array a = iota({2, 3});
  // np.repeat(a, 2, axis=1)
  check_close(repeat(a, 2, 1), {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, {2, 6});
  // np.repeat(a, 3, axis=0)
  check_close(repeat(a, 3, -2), {0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5}, {6, 3});
  // np.repeat(a.T, 2, axis=-1)
  check_close(repeat(transpose(a), 2, -1), {0, 0, 3, 3, 1, 1, 4, 4, 2, 2, 5, 5}, {3, 4});
  CHECK(repeat(a, 0, 1).shape() == Shape{2, 0});
  check_close(repeat(a, 1, 1), values(a), {2, 3});
  array h = repeat(astype(array({1.5f, -0.5f}), bfloat16), 2, 0);
  CHECK(h.dtype() == bfloat16);
  check_close(h, {1.5, 1.5, -0.5, -0.5}, {4});
  check_throws_with([&] { repeat(a, -1, 0); }, {"[repeat]", "-1", "(2,3)"});
  check_throws_with([&] { repeat(a, 2, 2); }, {"[repeat]", "axis 2", "(2,3)"});
}

TEST_CASE("tile follows numpy.tile", "[shape]") {
  // np.tile(np.arange(3), (2, 2)): reps longer than ndim
  check_close(tile(arange(3, int32), {2, 2}), {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, {2, 6});
  array a = iota({2, 3});
  // np.tile(a, 2): reps shorter than ndim
  check_close(tile(a, {2}), {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, {2, 6});
  // np.tile(a, (2, 1, 2))
  check_close(tile(a, {2, 1, 2}),
              {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, {2, 2, 6});
  // np.tile(a[:, ::-1], (1, 2))
  check_close(tile(flip(a, {1}), {1, 2}), {2, 1, 0, 2, 1, 0, 5, 4, 3, 5, 4, 3}, {2, 6});
  check_close(tile(a, {1, 1}), values(a), {2, 3});
  CHECK(tile(a, {0, 2}).shape() == Shape{0, 6});
  check_close(tile(array(7.0f), {3}), {7, 7, 7}, {3});
  check_close(tile(astype(array({0.5f}), float16), {2, 1}), {0.5, 0.5}, {2, 1});
  check_throws_with([&] { tile(a, {2, -1}); }, {"[tile]", "(2,-1)", "(2,3)"});
}
