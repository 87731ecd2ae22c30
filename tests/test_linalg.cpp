// matmul and einsum: numpy shape rules, BLAS layouts, dtypes, errors.
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

// Deterministic test values; numpy twin used for the expected values below:
//   seq(shape, k, off) = [(((i*k + off) % 11) - 5) * 0.25 for i in range(n)]
std::vector<double> seq_values(int64_t n, int k, int off) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = (((i * k + off) % 11) - 5) * 0.25;
  return v;
}

array seq(const Shape& shape, int k = 3, int off = 0, Dtype dtype = float64) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return array(seq_values(n, k, off), shape, dtype);
}

// Reference: broadcast both operands (numpy rules, 2-d+) and sum in long double.
std::vector<double> naive_matmul(array a, array b, Shape& out_shape) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb);
  const int64_t m = a.shape(-2), k = a.shape(-1), n = b.shape(-1);
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  auto av = broadcast_to(a, sa).to_vector<double>();
  auto bv = broadcast_to(b, sb).to_vector<double>();
  int64_t nb = 1;
  for (auto d : batch) nb *= d;
  std::vector<double> out(nb * m * n);
  for (int64_t t = 0; t < nb; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        long double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += (long double)av[(t * m + i) * k + p] * bv[(t * k + p) * n + j];
        out[(t * m + i) * n + j] = static_cast<double>(acc);
      }
  out_shape = batch;
  out_shape.insert(out_shape.end(), {m, n});
  return out;
}

std::vector<double> naive_values(const array& a, const array& b) {
  Shape s;
  return naive_matmul(a, b, s);
}

void check_against_naive(const array& a, const array& b, double tol = 1e-12) {
  Shape s;
  auto expected = naive_matmul(a, b, s);
  check_close(matmul(a, b), expected, s, tol, tol);
}

}  // namespace

TEST_CASE("matmul of matrices", "[linalg][matmul]") {
  array a({1.f, 2.f, 3.f, 4.f}, {2, 2});
  array b({5.f, 6.f, 7.f, 8.f}, {2, 2});
  array c = matmul(a, b);
  CHECK(c.dtype() == float32);
  check_close(c, {19, 22, 43, 50}, {2, 2});  // numpy: a @ b
  // Non-square and float64 exactness on integer-valued data.
  array x = arange(0.0, 12.0, 1.0, float64) - 5.0;
  array m1 = reshape(x, {3, 4}), m2 = reshape(x, {4, 3});
  CHECK(matmul(m1, m2).to_vector<double>() == naive_values(m1, m2));
  check_against_naive(seq({5, 7}), seq({7, 3}, 5, 1));
}

TEST_CASE("matmul promotes 1-d operands like numpy", "[linalg][matmul]") {
  array v = seq({3}), w = seq({3}, 5, 1);
  array m = seq({3, 4});
  check_close(matmul(v, m), naive_values(reshape(v, {1, 3}), m), {4}, 1e-12);
  check_close(matmul(seq({4, 3}), v), naive_values(seq({4, 3}), reshape(v, {3, 1})), {4}, 1e-12);
  // numpy: seq(3) @ seq(3, 5, 1) = -1.25*-1 + -0.5*0.25 + 0.25*-1.25 = 0.8125
  check_close(matmul(v, w), {0.8125}, {}, 1e-12);
  array batch = seq({2, 3, 4});
  CHECK(matmul(batch, seq({4})).shape() == Shape{2, 3});
  CHECK(matmul(seq({3}), batch).shape() == Shape{2, 4});
  check_close(matmul(seq({3}), batch), naive_values(reshape(seq({3}), {1, 3}), batch), {2, 4},
              1e-12);
}

TEST_CASE("matmul broadcasts batch axes", "[linalg][matmul]") {
  check_against_naive(seq({2, 1, 3, 4}), seq({5, 4, 2}, 5, 1));
  check_against_naive(seq({3, 2, 4}), seq({4, 5}, 7, 2));     // shared right operand
  check_against_naive(seq({4, 5}), seq({3, 5, 2}, 7, 2));     // shared left operand
  check_against_naive(seq({1, 2, 3}), seq({4, 1, 3, 2}, 5));  // size-1 batch axes
  CHECK(matmul(seq({2, 1, 3, 4}), seq({5, 4, 2})).shape() == Shape{2, 5, 3, 2});
}

TEST_CASE("matmul reads strided operands", "[linalg][matmul]") {
  array a = seq({4, 3}), b = seq({5, 4}, 5, 1);
  // Transposed views go to BLAS with CblasTrans.
  check_against_naive(transpose(a), transpose(b));
  check_against_naive(transpose(seq({2, 4, 3}), {0, 2, 1}), seq({4, 2}));
  check_against_naive(seq({3, 2}), transpose(seq({2, 4, 2}, 5, 1), {0, 2, 1}));
  // Transposed shared right operand (the folded batch path).
  check_against_naive(seq({3, 2, 4}), transpose(seq({5, 4}, 7, 2)));
  // Layouts BLAS cannot read: step slices, negative strides, broadcast rows.
  check_against_naive(slice(seq({6, 8}), {0, 0}, {6, 8}, {2, 3}), seq({3, 2}, 5));
  check_against_naive(flip(seq({3, 4}), {0, 1}), flip(seq({4, 2}, 5, 1), {1}));
  check_against_naive(broadcast_to(seq({1, 3}), {4, 3}), seq({3, 2}));
  check_against_naive(seq({2, 3}), broadcast_to(seq({3, 1}), {3, 5}));
  // Offset views (slices starting past the buffer start).
  check_against_naive(slice(seq({4, 5}), {1, 2}, {4, 5}), slice(seq({5, 4}, 5), {1, 1}, {4, 3}));
}

TEST_CASE("batches of small products run as tasks and equal a naive product",
          "[linalg][matmul]") {
  // Each element is small and the batch's work large enough to split, so the
  // elements run on the pool's threads (float32 with plain layouts through
  // the small product). Odd sizes leave partial tiles.
  for (Dtype t : {float32, float64}) {
    const double tol = t == float32 ? 1e-5 : 1e-12;
    array a = seq({12, 37, 90}, 3, 0, t), b = seq({12, 90, 70}, 5, 1, t);
    check_against_naive(a, b, tol);
    // Transposed and broadcast operands, and a left operand gathered per element.
    check_against_naive(transpose(seq({12, 90, 37}, 7, 2, t), {0, 2, 1}), b, tol);
    check_against_naive(a, transpose(seq({12, 70, 90}, 5, 3, t), {0, 2, 1}), tol);
    check_against_naive(a, broadcast_to(seq({1, 90, 70}, 7, 1, t), {12, 90, 70}), tol);
    check_against_naive(slice(seq({12, 37, 180}, 3, 4, t), {0, 0, 0}, {12, 37, 180}, {1, 1, 2}),
                        b, tol);
  }
  array h = matmul(seq({12, 37, 90}, 3, 0, float16), seq({12, 90, 70}, 5, 1, float16));
  check_close(astype(h, float64), naive_values(seq({12, 37, 90}), seq({12, 90, 70}, 5, 1)),
              {12, 37, 70}, 2e-2, 2e-2);
}

TEST_CASE("matmul dtypes", "[linalg][matmul]") {
  // Integers and bool compute in float32.
  array ai({1, 2, 3, 4}, {2, 2});
  array c = matmul(ai, ai);
  CHECK(c.dtype() == float32);
  check_close(c, {7, 10, 15, 22}, {2, 2});
  CHECK(matmul(astype(ai, bool_), ai).dtype() == float32);
  CHECK(matmul(ai, seq({2, 2})).dtype() == float64);
  // float32 against float64 within float32 accuracy.
  array a = seq({6, 5}, 3, 0, float32), b = seq({5, 4}, 5, 1, float32);
  check_close(matmul(a, b), naive_values(a, b), {6, 4}, 1e-5, 1e-6);
  // Halves compute in float32 and round once at the end.
  // numpy: (seq((2,3)).astype(f32) @ seq((3,2),5,1).astype(f32)).astype(f16)
  for (Dtype h : {float16, bfloat16}) {
    array r = matmul(seq({2, 3}, 3, 0, h), transpose(seq({2, 3}, 5, 1, h)));
    CHECK(r.dtype() == h);
    CHECK(r.shape() == Shape{2, 2});
  }
  check_close(matmul(seq({2, 3}, 3, 0, float16), seq({3, 2}, 5, 1, float16)),
              {2.1875, -0.375, -0.0625, 0.3125}, {2, 2}, 1e-3);
  check_close(matmul(seq({2, 2, 3}, 3, 0, bfloat16), seq({3, 2}, 5, 1, bfloat16)),
              naive_values(seq({2, 2, 3}), seq({3, 2}, 5, 1)), {2, 2, 2}, 1e-2, 1e-2);
}

TEST_CASE("matmul with zero-size dimensions", "[linalg][matmul]") {
  check_close(matmul(zeros({2, 0}), zeros({0, 3})), {0, 0, 0, 0, 0, 0}, {2, 3});
  CHECK(matmul(zeros({0, 4}), zeros({4, 3})).shape() == Shape{0, 3});
  CHECK(matmul(zeros({2, 4}), zeros({4, 0})).shape() == Shape{2, 0});
  CHECK(matmul(zeros({0, 2, 4}), zeros({4, 3})).shape() == Shape{0, 2, 3});
  check_close(matmul(zeros({0}), zeros({0})), {0}, {});
  matmul(zeros({0, 2, 4}), zeros({4, 3})).eval();
}

TEST_CASE("matmul errors", "[linalg][matmul]") {
  check_throws_with(
      [] {
        matmul(zeros({3, 4}), zeros({5, 6}));
      },
      {"[matmul] shapes (3,4) and (5,6) are incompatible"});
  check_throws_with([] { matmul(zeros({4}), zeros({5})); }, {"[matmul]", "(4)", "(5)"});
  check_throws_with(
      [] {
        matmul(zeros({2, 3, 4}), zeros({3, 4, 5}));
      },
      {"[matmul]", "(2,3,4)", "(3,4,5)", "incompatible"});
  check_throws_with([] { matmul(array(1.0f), zeros({2})); }, {"[matmul]", "0-d"});
  check_throws_with([] { matmul(array(), zeros({2})); }, {"[matmul]", "null"});
}

TEST_CASE("einsum against numpy.einsum", "[linalg][einsum]") {
  // Expected values: numpy.einsum(subscripts, *operands) with the seq twin.
  check_close(einsum("ij,jk->ik", {seq({2, 3}), seq({3, 4}, 5, 1)}),
              {0.8125, -0.375, 1.1875, 0.0, -2.4375, 0.6875, -2.375, 0.75}, {2, 4}, 1e-12);
  check_close(einsum("ij,jk", {seq({2, 3}), seq({3, 4}, 5, 1)}),
              {0.8125, -0.375, 1.1875, 0.0, -2.4375, 0.6875, -2.375, 0.75}, {2, 4}, 1e-12);
  check_close(einsum("bij,bjk->bik", {seq({2, 2, 3}), seq({2, 3, 2}, 5, 1)}),
              {2.1875, -0.375, -0.0625, 0.3125, 1.0625, -0.4375, -0.0625, 0.6875}, {2, 2, 2},
              1e-12);
  check_close(einsum("bnd,bmd->bnm", {seq({2, 2, 3}), seq({2, 3, 3}, 5, 1)}),
              {0.8125, -0.6875, -0.8125, -0.9375, -1.1875, 1.3125, 1.0, -1.4375, -0.4375, 1.625,
               -0.9375, -1.4375},
              {2, 2, 3}, 1e-12);
  check_close(einsum("i,i->", {seq({4}), seq({4}, 5, 1)}), {0.8125}, {}, 1e-12);
  check_close(einsum("i,i", {seq({4}), seq({4}, 5, 1)}), {0.8125}, {}, 1e-12);
  check_close(einsum("ij->ji", {seq({2, 3})}), {-1.25, 1.0, -0.5, -1.0, 0.25, -0.25}, {3, 2});
  check_close(einsum("ji", {seq({2, 3})}), {-1.25, 1.0, -0.5, -1.0, 0.25, -0.25}, {3, 2});
  check_close(einsum("ij->", {seq({2, 3})}), {-1.75}, {}, 1e-12);
  check_close(einsum("ij->j", {seq({2, 3})}), {-0.25, -1.5, 0.0}, {3}, 1e-12);
  check_close(einsum("ij,jk,kl->il", {seq({2, 3}), seq({3, 2}, 5, 1), seq({2, 2}, 7, 2)}),
              {-1.640625, 2.5625, 0.046875, -0.375}, {2, 2}, 1e-12);
  check_close(einsum("i,j,k->ijk", {seq({2}), seq({3}, 5, 1), seq({2}, 7, 2)}),
              {-0.9375, 1.25, 0.234375, -0.3125, -1.171875, 1.5625, -0.375, 0.5, 0.09375, -0.125,
               -0.46875, 0.625},
              {2, 3, 2}, 1e-12);
  check_close(einsum("bi,bj->bij", {seq({2, 2}), seq({2, 3}, 5, 1)}),
              {1.25, -0.3125, 1.5625, 0.5, -0.125, 0.625, 0.0, 0.3125, -0.0625, 0.0, 1.25, -0.25},
              {2, 2, 3}, 1e-12);
  check_close(einsum("ijk,jil->kl", {seq({2, 3, 2}), seq({3, 2, 2}, 5, 1)}),
              {-0.1875, 0.0, -0.625, 1.0625}, {2, 2}, 1e-12);
  check_close(einsum("ij,ij->ij", {seq({2, 3}), seq({2, 3}, 5, 1)}),
              {1.25, -0.125, -0.3125, 0.0, -1.25, 0.0625}, {2, 3}, 1e-12);
  check_close(einsum("ijk,k->ij", {seq({2, 2, 3}), seq({3}, 5, 1)}), {0.8125, -0.9375, 0.75, 1.75},
              {2, 2}, 1e-12);
  check_close(einsum("ij,kj->ik", {seq({2, 3}), seq({4, 3}, 5, 1)}),
              {0.8125, -0.6875, -0.8125, 0.4375, -0.9375, -1.1875, 1.3125, -1.0}, {2, 4}, 1e-12);
  check_close(einsum("abc,cd,de->abe", {seq({2, 2, 3}), seq({3, 2}, 5, 1), seq({2, 2}, 7, 2)}),
              {-1.640625, 2.5625, 0.046875, -0.375, 2.25, -3.3125, 1.875, -2.8125}, {2, 2, 2},
              1e-12);
  check_close(einsum("ij,jk->", {seq({2, 3}), seq({3, 4}, 5, 1)}), {-1.75}, {}, 1e-12);
  check_close(einsum("ij,k->ik", {seq({2, 3}), seq({2}, 5, 1)}), {1.5, -0.375, 0.25, -0.0625},
              {2, 2}, 1e-12);
  // Implicit output in character order: "ba,aC" -> "Cb".
  check_close(einsum("ba,aC", {seq({2, 3}), seq({3, 4}, 5, 1)}),
              {0.8125, -2.4375, -0.375, 0.6875, 1.1875, -2.375, 0.0, 0.75}, {4, 2}, 1e-12);
  // Spaces are ignored; integer operands compute in float32 like matmul.
  array ints({1, 2, 3, 4}, {2, 2});
  array r = einsum(" ij , jk -> ik ", {ints, ints});
  CHECK(r.dtype() == float32);
  check_close(r, {7, 10, 15, 22}, {2, 2});
  // Non-contiguous operands.
  check_close(einsum("ij,jk->ik", {transpose(seq({3, 2})), seq({3, 4}, 5, 1)}),
              naive_values(transpose(seq({3, 2})), seq({3, 4}, 5, 1)), {2, 4}, 1e-12);
}

TEST_CASE("einsum errors", "[linalg][einsum]") {
  array a = zeros({2, 3}), b = zeros({4, 5});
  check_throws_with(
      [&] {
        einsum("ij,jk->ik", {a, b});
      },
      {"[einsum]", "index 'j'", "size 4", "(4,5)"});
  check_throws_with([&] { einsum("ij,jk->ik", {a}); }, {"[einsum]", "2 terms for 1 operands"});
  check_throws_with(
      [&] {
        einsum("ii->i", {zeros({3, 3})});
      },
      {"[einsum]", "'i' repeats", "diagonals"});
  check_throws_with([&] { einsum("ij->k", {a}); }, {"[einsum]", "'k' appears in no operand"});
  check_throws_with([&] { einsum("ij->ii", {a}); }, {"[einsum]", "more than once"});
  check_throws_with([&] { einsum("i1,jk", {a, b}); }, {"[einsum]", "unexpected character '1'"});
  check_throws_with([&] { einsum("...i->i", {a}); }, {"[einsum]", "ellipsis"});
  check_throws_with([&] { einsum("ijk", {a}); }, {"[einsum]", "\"ijk\"", "(2,3)"});
  check_throws_with([&] { einsum("i->i->i", {zeros({2})}); }, {"[einsum]", "'->'"});
  check_throws_with([&] { einsum("", {}); }, {"[einsum]", "1 to 3 operands"});
  check_throws_with(
      [&] {
        einsum("i,i,i,i", {zeros({2}), zeros({2}), zeros({2}), zeros({2})});
      },
      {"[einsum]", "1 to 3 operands"});
}
