// Neural-network ops. Convolutions, pooling and interpolation are checked
// against tests/data/nn_fixtures.safetensors (direct-loop numpy references
// with PyTorch semantics, written by tests/fixtures/gen_nn_fixtures.py).
#include <cmath>
#include <map>

#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::check_throws_with;

namespace {

const std::map<std::string, array>& fixtures() {
  static const std::map<std::string, array> f =
      load_safetensors(mfx::test::data_path("nn_fixtures.safetensors"));
  return f;
}

// Case names "NAME" of op OP, from the "OP.NAME.params" entries.
std::vector<std::string> cases(const std::string& op) {
  std::vector<std::string> out;
  const std::string prefix = op + ".", suffix = ".params";
  for (auto& [key, value] : fixtures()) {
    if (key.rfind(prefix, 0) == 0 && key.size() > prefix.size() + suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(key.substr(0, key.size() - suffix.size()));
    }
  }
  return out;
}

array fixture(const std::string& key) {
  auto it = fixtures().find(key);
  if (it == fixtures().end()) FAIL("missing fixture " << key);
  return it->second;
}

std::vector<int64_t> params(const std::string& c) {
  return fixture(c + ".params").to_vector<int64_t>();
}

void check_fixture(const array& got, const std::string& c, double tol) {
  array expected = fixture(c + ".out");
  check_close(got, expected.to_vector<double>(), expected.shape(), tol, tol);
}

// seq(shape, k, off) = [(((i*k + off) % 11) - 5) * 0.25 for i in range(n)] (numpy twin).
array seq(const Shape& shape, int k = 3, int off = 0, Dtype dtype = float64) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = (((i * k + off) % 11) - 5) * 0.25;
  return array(v, shape, dtype);
}

}  // namespace

TEST_CASE("conv2d matches the PyTorch-semantics reference", "[nn][conv]") {
  auto names = cases("conv2d");
  REQUIRE(names.size() >= 6);
  for (auto& c : names) {
    INFO("case " << c);
    auto p = params(c);
    array x = fixture(c + ".x"), w = fixture(c + ".w");
    auto run = [&](const array& xi, const array& wi) {
      return conv2d(xi, wi, {p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, static_cast<int>(p[6]));
    };
    array y = run(x, w);
    CHECK(y.dtype() == float32);
    check_fixture(y, c, 1e-5);
    check_fixture(run(astype(x, float64), astype(w, float64)), c, 1e-12);
    // Non-contiguous input: the same values through a transposed view.
    array xt = transpose(astype(transpose(x, {0, 1, 3, 2}), float64), {0, 1, 3, 2});
    check_fixture(run(xt, astype(w, float64)), c, 1e-12);
    // Halves compute in float32.
    array yh = run(astype(x, float16), astype(w, float16));
    CHECK(yh.dtype() == float16);
    check_fixture(yh, c, 2e-2);
  }
}

namespace {

// y[b, o, i, j] of a 3x3 convolution with stride 1 and padding 1, summed
// directly in the order (input channel, kernel row, kernel column): x of
// shape xs = [n, C, h, w], k [out_channels, C / groups, 3, 3].
double conv3x3_at(const std::vector<double>& xv, const std::vector<double>& kv, const Shape& xs,
                  int64_t out_channels, int64_t groups, int64_t b, int64_t o, int64_t i, int64_t j) {
  const int64_t c = xs[1], h = xs[2], w = xs[3], cg = c / groups;
  const int64_t gi = o / (out_channels / groups);
  double acc = 0;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t ki = 0; ki < 3; ++ki)
      for (int64_t kj = 0; kj < 3; ++kj) {
        const int64_t ih = i - 1 + ki, iw = j - 1 + kj;
        if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
        acc += xv[((b * c + gi * cg + ci) * h + ih) * w + iw] *
               kv[((o * cg + ci) * 3 + ki) * 3 + kj];
      }
  return acc;
}

}  // namespace

TEST_CASE("conv2d on a wide image uses several column blocks", "[nn][conv]") {
  // kdim * W_out = 64*3*3 * 2048 exceeds the kernel's column budget.
  const int64_t c = 64, h = 3, w = 2048;
  array x = seq({1, c, h, w}, 3, 0, float64), k = seq({2, c, 3, 3}, 5, 1, float64);
  array y = conv2d(x, k, {1, 1}, {1, 1});
  REQUIRE(y.shape() == Shape{1, 2, h, w});
  auto xv = x.to_vector<double>(), kv = k.to_vector<double>(), yv = y.to_vector<double>();
  // Spot-check rows and borders against the direct sum.
  for (int64_t o : {0, 1})
    for (int64_t i : {0, 1, 2})
      for (int64_t j : {0, 1, 1000, 2047}) {
        const double acc = conv3x3_at(xv, kv, x.shape(), 2, 1, 0, o, i, j);
        INFO("o " << o << " i " << i << " j " << j);
        CHECK(std::abs(yv[(o * h + i) * w + j] - acc) < 1e-10);
      }
}

TEST_CASE("conv2d splits images, groups and row blocks into tasks", "[nn][conv]") {
  // 3 images x 2 groups x 20 blocks of 2 rows (64*3*3 * 40 doubles per row
  // is a third of a task's columns): every task must land in its own rows.
  const int64_t n = 3, cg = 64, h = 40, w = 40, og = 2;
  array x = seq({n, 2 * cg, h, w}, 7, 0, float64), k = seq({2 * og, cg, 3, 3}, 5, 1, float64);
  array y = conv2d(x, k, {1, 1}, {1, 1}, {1, 1}, 2);
  REQUIRE(y.shape() == Shape{n, 2 * og, h, w});
  auto xv = x.to_vector<double>(), kv = k.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t b : {0, 2})
    for (int64_t o : {0, 3})
      for (int64_t i : {0, 1, 2, 17, 39})
        for (int64_t j : {0, 20, 39}) {
          const double acc = conv3x3_at(xv, kv, x.shape(), 2 * og, 2, b, o, i, j);
          INFO("b " << b << " o " << o << " i " << i << " j " << j);
          CHECK(std::abs(yv[((b * 2 * og + o) * h + i) * w + j] - acc) < 1e-9 * (1 + std::abs(acc)));
        }
}

TEST_CASE("float32 conv2d through the small product equals float64", "[nn][conv]") {
  // 16 output channels (two blocks of 8) and 37-wide rows: the tasks'
  // products go to cpu::small_sgemm on an AVX-512 CPU (48-column tiles and
  // remainders read from a padded copy), OpenBLAS elsewhere; both must
  // match float64.
  array x = seq({3, 16, 37, 37}, 7, 0, float64), k = seq({16, 16, 3, 3}, 5, 1, float64);
  for (int stride : {1, 2}) {
    array want = conv2d(x, k, {stride, stride}, {1, 1});
    array got = conv2d(astype(x, float32), astype(k, float32), {stride, stride}, {1, 1});
    REQUIRE(got.dtype() == float32);
    INFO("stride " << stride);
    check_close(astype(got, float64), want.to_vector<double>(), want.shape(), 1e-5, 1e-5);
  }
}

TEST_CASE("float32 conv2d gradients through the small product equal float64", "[nn][conv]") {
  // 16 output channels and 32 * 3 * 3 = 288 column rows: the weight
  // gradient accumulates dW^T through cpu::small_sgemm over images and over
  // blocks of rows (4 of 30 rows at 120 columns) on an AVX-512 CPU; the
  // unit-stride input gradient is a convolution through it too.
  const int64_t size = 120;
  array x = seq({2, 32, size, size}, 7, 0, float64), w = seq({16, 32, 3, 3}, 5, 1, float64);
  for (int stride : {1, 2}) {
    const int64_t out = (size + 2 - 3) / stride + 1;
    array ct = seq({2, 16, out, out}, 3, 2, float64);
    const Pair s{stride, stride}, p{1, 1};
    INFO("stride " << stride);
    array dw = conv2d_weight_grad(x, ct, {3, 3}, s, p);
    array dw32 = conv2d_weight_grad(astype(x, float32), astype(ct, float32), {3, 3}, s, p);
    REQUIRE(dw32.dtype() == float32);
    check_close(astype(dw32, float64), dw.to_vector<double>(), dw.shape(), 1e-5, 1e-5);
    array dx = conv2d_input_grad(ct, w, {size, size}, s, p);
    array dx32 = conv2d_input_grad(astype(ct, float32), astype(w, float32), {size, size}, s, p);
    check_close(astype(dx32, float64), dx.to_vector<double>(), dx.shape(), 1e-5, 1e-5);
  }
}

TEST_CASE("float32 conv2d read in place from the padded image's phases equals float64",
          "[nn][conv]") {
  // Whole blocks of 8 output channels: on an AVX-512 CPU the product reads
  // its columns from the zero-padded image split into its stride phases
  // (cpu::small_sgemm_rows), in the phases' row pitch, and drops the
  // columns past each row. Padding on one axis only, wider than the
  // kernel, dilation, groups, strides 2 and 3 (a stem-like 7 x 7), kernels
  // wider than the output, more than 256 column rows (two product passes)
  // and images long enough for several tasks each; the input gradient of
  // each goes the same way at unit stride. Every output against float64.
  struct Case {
    int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  };
  for (const Case& q : {Case{2, 32, 11, 29, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                        Case{1, 6, 9, 14, 16, 3, 5, 1, 1, 0, 2, 1, 1, 2},
                        Case{2, 4, 13, 10, 8, 3, 3, 1, 1, 2, 1, 2, 2, 1},
                        Case{1, 3, 7, 5, 8, 3, 7, 1, 1, 1, 3, 1, 1, 1},
                        Case{1, 8, 5, 6, 8, 1, 1, 1, 1, 2, 2, 1, 1, 1},
                        Case{3, 2, 40, 64, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                        Case{2, 3, 37, 41, 32, 7, 7, 2, 2, 3, 3, 1, 1, 1},
                        Case{1, 6, 17, 12, 16, 3, 3, 2, 2, 1, 1, 1, 1, 2},
                        Case{1, 4, 19, 23, 8, 3, 5, 3, 2, 2, 1, 2, 1, 1},
                        Case{2, 8, 9, 9, 8, 1, 1, 2, 2, 0, 0, 1, 1, 1}}) {
    const int64_t cg = q.c / q.groups;
    array x = seq({q.n, q.c, q.h, q.w}, 3, 0, float64);
    array k = seq({q.o, cg, q.kh, q.kw}, 5, 1, float64);
    const Pair s{q.sh, q.sw}, p{q.ph, q.pw}, d{q.dh, q.dw};
    const int g = static_cast<int>(q.groups);
    INFO("x " << shape_str(x.shape()) << " w " << shape_str(k.shape()) << " stride " << q.sh
              << "," << q.sw);
    array want = conv2d(x, k, s, p, d, g);
    array got = conv2d(astype(x, float32), astype(k, float32), s, p, d, g);
    REQUIRE(got.dtype() == float32);
    check_close(astype(got, float64), want.to_vector<double>(), want.shape(), 1e-5, 1e-5);
    array ct = seq(want.shape(), 7, 2, float64);
    array dx = conv2d_input_grad(ct, k, {q.h, q.w}, s, p, d, g);
    array dx32 = conv2d_input_grad(astype(ct, float32), astype(k, float32), {q.h, q.w}, s, p, d, g);
    check_close(astype(dx32, float64), dx.to_vector<double>(), dx.shape(), 1e-5, 1e-5);
  }
}

TEST_CASE("conv2d with a kernel wider than its output (transposed columns)", "[nn][conv]") {
  // The weight gradient's shape: a wide kernel, a few output columns. Every
  // output against the direct sum, over strides, padding, dilation, groups.
  struct Case {
    int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  };
  for (const Case& q : {Case{2, 3, 9, 13, 4, 5, 11, 1, 1, 0, 0, 1, 1, 1},
                        Case{1, 4, 10, 17, 2, 3, 10, 2, 2, 2, 3, 1, 1, 2},
                        Case{2, 2, 12, 20, 3, 4, 7, 1, 3, 1, 2, 2, 2, 1},
                        Case{1, 2, 6, 9, 2, 6, 12, 1, 1, 1, 2, 1, 1, 1}}) {
    const int64_t cg = q.c / q.groups, og = q.o / q.groups;
    array x = seq({q.n, q.c, q.h, q.w}, 3, 0, float64), k = seq({q.o, cg, q.kh, q.kw}, 5, 1, float64);
    array y = conv2d(x, k, {q.sh, q.sw}, {q.ph, q.pw}, {q.dh, q.dw}, static_cast<int>(q.groups));
    const int64_t ho = y.shape()[2], wo = y.shape()[3];
    REQUIRE(q.kw > wo);
    auto xv = x.to_vector<double>(), kv = k.to_vector<double>(), yv = y.to_vector<double>();
    for (int64_t b = 0; b < q.n; ++b)
      for (int64_t o = 0; o < q.o; ++o)
        for (int64_t i = 0; i < ho; ++i)
          for (int64_t j = 0; j < wo; ++j) {
            double acc = 0;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t ki = 0; ki < q.kh; ++ki)
                for (int64_t kj = 0; kj < q.kw; ++kj) {
                  const int64_t ih = i * q.sh - q.ph + ki * q.dh, iw = j * q.sw - q.pw + kj * q.dw;
                  if (ih < 0 || ih >= q.h || iw < 0 || iw >= q.w) continue;
                  const int64_t cin = (o / og) * cg + ci;
                  acc += xv[((b * q.c + cin) * q.h + ih) * q.w + iw] *
                         kv[((o * cg + ci) * q.kh + ki) * q.kw + kj];
                }
            INFO("case kw " << q.kw << " b " << b << " o " << o << " i " << i << " j " << j);
            CHECK(std::abs(yv[((b * q.o + o) * ho + i) * wo + j] - acc) < 1e-9 * (1 + std::abs(acc)));
          }
  }
}

TEST_CASE("conv2d dtypes, zero sizes and errors", "[nn][conv]") {
  array x = zeros({1, 4, 5, 5}), w = zeros({6, 2, 3, 3});
  CHECK(conv2d(x, astype(w, float64), {1, 1}, {0, 0}, {1, 1}, 2).dtype() == float64);
  check_close(conv2d(zeros({0, 4, 5, 5}), w, {1, 1}, {0, 0}, {1, 1}, 2), {}, {0, 6, 3, 3});
  check_throws_with(
      [&] {
        conv2d(astype(x, int32), w, {1, 1}, {0, 0}, {1, 1}, 2);
      },
      {"[conv2d]", "int32", "(1,4,5,5)"});
  check_throws_with([&] { conv2d(x, w); }, {"[conv2d]", "(1,4,5,5)", "(6,2,3,3)", "groups=1"});
  check_throws_with(
      [&] {
        conv2d(x, zeros({5, 2, 3, 3}), {1, 1}, {0, 0}, {1, 1}, 2);
      },
      {"[conv2d]", "(5,2,3,3)", "groups=2"});
  check_throws_with(
      [&] {
        conv2d(x, zeros({6, 4, 7, 3}));
      },
      {"[conv2d]", "larger than the padded input", "(5,5)"});
  check_throws_with([&] { conv2d(x, zeros({6, 4, 3, 3}), {0, 1}); }, {"[conv2d]", "stride"});
  check_throws_with(
      [&] {
        conv2d(x, zeros({6, 4, 3, 3}), {1, 1}, {-1, 0});
      },
      {"[conv2d]", "padding"});
  check_throws_with(
      [&] {
        conv2d(x, zeros({6, 4, 3, 3}), {1, 1}, {0, 0}, {0, 1});
      },
      {"[conv2d]", "dilation"});
  check_throws_with([&] { conv2d(zeros({4, 5, 5}), w); }, {"[conv2d]", "[N,C,H,W]", "(4,5,5)"});
  check_throws_with([&] { conv2d(x, w, {1, 1}, {0, 0}, {1, 1}, 0); }, {"[conv2d]", "groups"});
}

TEST_CASE("conv_transpose2d matches the PyTorch-semantics reference", "[nn][conv]") {
  auto names = cases("conv_transpose2d");
  REQUIRE(names.size() >= 5);
  for (auto& c : names) {
    INFO("case " << c);
    auto p = params(c);
    array x = fixture(c + ".x"), w = fixture(c + ".w");
    auto run = [&](const array& xi, const array& wi) {
      return conv_transpose2d(xi, wi, {p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, {p[6], p[7]},
                              static_cast<int>(p[8]));
    };
    check_fixture(run(x, w), c, 1e-5);
    check_fixture(run(astype(x, float64), astype(w, float64)), c, 1e-12);
  }
}

TEST_CASE("conv_transpose2d errors", "[nn][conv]") {
  array x = zeros({1, 4, 3, 3}), w = zeros({4, 3, 3, 3});
  check_throws_with(
      [&] {
        conv_transpose2d(x, zeros({3, 3, 3, 3}));
      },
      {"[conv_transpose2d]", "(1,4,3,3)", "(3,3,3,3)"});
  check_throws_with(
      [&] {
        conv_transpose2d(zeros({1, 3, 3, 3}), zeros({3, 2, 3, 3}), {1, 1}, {0, 0}, {0, 0}, {1, 1},
                         2);
      },
      {"[conv_transpose2d]", "groups=2"});
  check_throws_with(
      [&] {
        conv_transpose2d(x, w, {2, 2}, {0, 0}, {2, 0});
      },
      {"[conv_transpose2d]", "output_padding (2,0)"});
  check_throws_with(
      [&] {
        conv_transpose2d(x, w, {1, 1}, {3, 3});
      },
      {"[conv_transpose2d]", "non-positive output size"});
  check_throws_with([&] { conv_transpose2d(astype(x, int64), w); },
                    {"[conv_transpose2d]", "int64"});
}

TEST_CASE("max_pool2d and avg_pool2d match the reference", "[nn][pool]") {
  for (const char* op : {"max_pool2d", "avg_pool2d"}) {
    auto names = cases(op);
    REQUIRE(names.size() >= 3);
    for (auto& c : names) {
      INFO("case " << c);
      auto p = params(c);
      array x = fixture(c + ".x");
      for (Dtype t : {float32, float64}) {
        array xt = astype(x, t);
        array y = std::string(op) == "max_pool2d"
                      ? max_pool2d(xt, {p[0], p[1]}, Pair{p[2], p[3]}, {p[4], p[5]})
                      : avg_pool2d(xt, {p[0], p[1]}, Pair{p[2], p[3]}, {p[4], p[5]}, p[6] != 0);
        CHECK(y.dtype() == t);
        check_fixture(y, c, t == float64 ? 1e-12 : 1e-6);
      }
    }
  }
}

TEST_CASE("pooling details", "[nn][pool]") {
  // Stride defaults to the kernel; 3-d input; integer max pooling keeps the dtype.
  array x({1, 5, 2, 3, 7, 4, 6, 0, 8, 9, 1, 2, 3, 4, 5, 6}, {1, 1, 4, 4});
  array m = max_pool2d(x, {2, 2});
  CHECK(m.dtype() == int32);
  check_close(m, {7, 6, 9, 6}, {1, 1, 2, 2});
  // Windows rows/cols {0,1} and {1,2,3} of the 4x4 input (the pad ring never wins).
  check_close(max_pool2d(reshape(x, {1, 4, 4}), {3, 3}, Pair{2, 2}, {1, 1}), {7, 6, 9, 9},
              {1, 2, 2});
  check_close(max_pool2d(x - 100, {3, 3}, Pair{2, 2}, {1, 1}), {-93, -94, -91, -91}, {1, 1, 2, 2});
  // Integers average in float32: (1+5+7+4)/4, (2+3+6+0)/4, (8+9+3+4)/4, (1+2+5+6)/4.
  array a = avg_pool2d(x, {2, 2});
  CHECK(a.dtype() == float32);
  check_close(a, {4.25, 2.75, 6, 3.5}, {1, 1, 2, 2});
  CHECK(avg_pool2d(astype(x, float16), {2, 2}).dtype() == float16);
  check_close(avg_pool2d(astype(x, float16), {2, 2}), {4.25, 2.75, 6, 3.5}, {1, 1, 2, 2});
  // Strided view input.
  array big = astype(reshape(arange(0.0, 64.0, 1.0), {1, 1, 8, 8}), float32);
  check_close(max_pool2d(slice(big, {0, 0, 0, 0}, {1, 1, 8, 8}, {1, 1, 2, 2}), {2, 2}),
              {18, 22, 50, 54}, {1, 1, 2, 2});
}

TEST_CASE("max_pool2d: ties send the gradient to the first maximum, NaN wins", "[nn][pool]") {
  // PyTorch's max_pool2d_with_indices semantics: each window's gradient goes
  // to its first maximum in row-major order (a ReLU's zeros tie often); a
  // NaN in a window is its value and takes the gradient.
  array x({0.0, 0.0, 2.0, 2.0,   //
           0.0, 0.0, 1.0, 2.0,   //
           5.0, 3.0, 7.0, 7.0,   //
           5.0, 4.0, 7.0, 7.0},
          {1, 1, 4, 4});
  auto g = grad([](const array& v) { return sum(max_pool2d(v, {2, 2}) * array({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2})); })(x);
  check_close(g, {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0}, {1, 1, 4, 4}, 0, 0);
  // Overlapping windows (stride 1) add their shares at a shared maximum.
  auto g2 = grad([](const array& v) { return sum(max_pool2d(v, {2, 2}, Pair{1, 1})); })(x);
  check_close(g2, {1, 0, 2, 0, 0, 0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0}, {1, 1, 4, 4}, 0, 0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  array y({1.0, nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {1, 1, 3, 3});
  auto v = max_pool2d(y, {2, 2}, Pair{1, 1}).to_vector<double>();
  CHECK(std::isnan(v[0]));
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == 8.0);
  CHECK(v[3] == 9.0);
  // The NaN at (0, 1) is the maximum of the two windows that hold it.
  auto gy = vjp([](const std::vector<array>& in) {
              return std::vector<array>{max_pool2d(in[0], {2, 2}, Pair{1, 1})};
            },
            {y}, {ones({1, 1, 2, 2}, float64)})
                .second[0]
                .to_vector<double>();
  CHECK(gy == std::vector<double>{0, 2, 0, 0, 0, 0, 0, 1, 1});
  // Forward mode through the same argmax: d(x^2) = 2 x at each window's first maximum.
  auto tan = jvp([](const std::vector<array>& in) {
               return std::vector<array>{max_pool2d(in[0] * in[0], {2, 2})};
             },
             {x}, {ones_like(x)})
                 .second;
  check_close(tan[0], {0, 4, 10, 14}, {1, 1, 2, 2}, 0, 0);
}

TEST_CASE("pooling errors", "[nn][pool]") {
  array x = zeros({1, 2, 5, 5});
  check_throws_with(
      [&] {
        max_pool2d(x, {3, 3}, std::nullopt, {2, 2});
      },
      {"[max_pool2d]", "padding (2,2)", "half of the kernel (3,3)"});
  check_throws_with([&] { avg_pool2d(x, {6, 2}); }, {"[avg_pool2d]", "kernel (6,2)", "(5,5)"});
  check_throws_with([&] { max_pool2d(zeros({5, 5}), {2, 2}); }, {"[max_pool2d]", "(5,5)"});
  check_throws_with([&] { max_pool2d(x, {0, 2}); }, {"[max_pool2d]", "kernel (0,2)"});
  // Unevaluated: the shape alone is refused (the argmax is an int32 plane index).
  check_throws_with([&] { max_pool2d(zeros({1, 1, 50000, 50000}), {2, 2}); },
                    {"[max_pool2d]", "50000 x 50000", "int32"});
  check_throws_with([&] { avg_pool2d(x, {2, 2}, Pair{0, 1}); }, {"[avg_pool2d]", "stride (0,1)"});
}

TEST_CASE("interpolate matches PyTorch's index formulas", "[nn][interpolate]") {
  auto names = cases("interpolate");
  REQUIRE(names.size() >= 6);
  for (auto& c : names) {
    INFO("case " << c);
    auto p = params(c);
    InterpolateMode mode = p[2] ? InterpolateMode::bilinear : InterpolateMode::nearest;
    array x = fixture(c + ".x");
    check_fixture(interpolate(x, {p[0], p[1]}, mode, p[3] != 0), c, 1e-6);
    check_fixture(interpolate(astype(x, float64), {p[0], p[1]}, mode, p[3] != 0), c, 1e-6);
  }
}

TEST_CASE("interpolate details and errors", "[nn][interpolate]") {
  // Nearest keeps integer dtypes; bilinear computes integers in float32.
  array x({1, 2, 3, 4}, {1, 1, 2, 2});
  array n = interpolate(x, {3, 3});
  CHECK(n.dtype() == int32);
  // src = floor(dst * 2/3): rows/cols 0, 0, 1.
  check_close(n, {1, 1, 2, 1, 1, 2, 3, 3, 4}, {1, 1, 3, 3});
  array b = interpolate(x, {3, 3}, InterpolateMode::bilinear, true);
  CHECK(b.dtype() == float32);
  check_close(b, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, {1, 1, 3, 3});
  check_close(interpolate(x, {2, 2}, InterpolateMode::bilinear), {1, 2, 3, 4}, {1, 1, 2, 2});
  array bh = interpolate(astype(x, bfloat16), {3, 3}, InterpolateMode::bilinear, true);
  CHECK(bh.dtype() == bfloat16);
  check_close(bh, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, {1, 1, 3, 3});
  check_throws_with([&] { interpolate(x, {0, 3}); }, {"[interpolate]", "(0,3)"});
  check_throws_with([&] { interpolate(zeros({2, 2}), {3, 3}); }, {"[interpolate]", "(2,2)"});
  check_throws_with(
      [&] {
        interpolate(x, {3, 3}, InterpolateMode::nearest, true);
      },
      {"[interpolate]", "align_corners"});
}

TEST_CASE("layer_norm, group_norm, batch_norm", "[nn][norm]") {
  // numpy: m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
  //        (x - m) / np.sqrt(v + 1e-5) * w + b   with x = seq((2,3,4))
  array x = seq({2, 3, 4});
  array w({0.5, 1.0, -1.0, 2.0}), bias({0.1, 0.2, 0.3, 0.4});
  std::vector<double> ln{
      -0.5708156230224674, -0.24721041534831156, -0.14721041534831159, 3.0832624920898692,
      -0.5708156230224674, -0.24721041534831156, -0.14721041534831159, 3.0832624920898692,
      -0.1886726209938185, 0.6123894585625979,   -1.1021241591128326,  -2.0743367513755873,
      -0.1886726209938185, 0.6123894585625979,   -1.1021241591128326,  -2.0743367513755873,
      -0.1886726209938185, 0.6123894585625979,   -1.1021241591128326,  -2.0743367513755873,
      0.2714969710609651,  1.5719757684877207,   1.6719757684877208,   -0.28598788424386035};
  check_close(layer_norm(x, w, bias), ln, {2, 3, 4}, 1e-10, 1e-10);
  check_close(layer_norm(astype(x, float32), w, bias), ln, {2, 3, 4}, 1e-5, 1e-5);
  array lh = layer_norm(astype(x, float16), astype(w, float16), astype(bias, float16));
  CHECK(lh.dtype() == float16);
  check_close(lh, ln, {2, 3, 4}, 1e-2, 1e-2);
  // Without affine parameters the rows have mean 0 and biased variance ~1.
  auto plain = layer_norm(x, std::nullopt, std::nullopt, 0.0).to_vector<double>();
  double s = 0, ss = 0;
  for (int i = 0; i < 4; ++i) s += plain[i], ss += plain[i] * plain[i];
  CHECK(std::abs(s) < 1e-12);
  CHECK(std::abs(ss / 4 - 1) < 1e-12);

  // numpy: g = seq((2,4,3),5,1).reshape(2,2,6); normalised over the last
  // axis, reshaped to (2,4,3), * w[:,None] + b[:,None].
  array gw({1.0, 2.0, 0.5, -1.0}), gb({0.0, 1.0, 0.0, -1.0});
  check_close(group_norm(seq({2, 4, 3}, 5, 1), 2, gw, gb),
              {-1.0101451231050993, 0.5050725615525495,   -1.3131886600366287,  1.4040580492420396,
               4.434493418557338,   0.7979709753789801,   0.6432621973754856,   -0.3216310986877428,
               0.48244664803161424, -0.03510670393677151, -1.6432621973754857,  0.28652439475097125,
               0.10101451231050995, -1.7172467092786692,  -0.20202902462101988, 3.6263773200732583,
               -0.0101451231050993, 3.020290246210199,    -0.28517261437304403, 0.6654027668704361,
               -0.4752876906217401, -1.95057538124348,    0.3308055337408722,   -1.570345228746088},
              {2, 4, 3}, 1e-10, 1e-10);
  // 4-d input: one group equals layer norm over all of C,H,W.
  array g4 = seq({2, 2, 2, 2});
  check_close(group_norm(g4, 1, std::nullopt, std::nullopt),
              layer_norm(reshape(g4, {2, 8}), std::nullopt, std::nullopt).to_vector<double>(),
              {2, 2, 2, 2}, 1e-12, 1e-12);

  // numpy: (x - rm[:,None]) / np.sqrt(rv[:,None] + 1e-3) * w[:,None] + b[:,None]
  array bx = seq({2, 3, 2}, 7, 2);
  array rm({0.1, -0.2, 0.3}), rv({0.5, 1.5, 2.0}), bw({1.0, -1.0, 2.0}), bb({0.5, 0.0, -0.5});
  check_close(batch_norm(bx, rm, rv, bw, bb, 1e-3),
              {-0.7008812466114513, 1.771521319941537, -0.16324491028159124, 0.652979641126365,
               0.13623706367941213, -1.2776230778303925, -1.4072819799123055, 1.065120586640683,
               0.24486736542238682, -1.1835255995415364, -0.5706930070754902, -1.984553148585295},
              {2, 3, 2}, 1e-10, 1e-10);
  CHECK(batch_norm(astype(bx, float32), rm, rv, std::nullopt, std::nullopt).dtype() == float32);
  CHECK(layer_norm(array({1, 2, 3}), std::nullopt, std::nullopt).dtype() == float32);
}

TEST_CASE("normalization errors", "[nn][norm]") {
  array x = zeros({2, 6, 4});
  check_throws_with([&] { layer_norm(x, zeros({6}), std::nullopt); },
                    {"[layer_norm]", "weight", "(4)", "(6)", "(2,6,4)"});
  check_throws_with([&] { layer_norm(array(1.0f), std::nullopt, std::nullopt); }, {"[layer_norm]"});
  check_throws_with([&] { group_norm(x, 4, std::nullopt, std::nullopt); },
                    {"[group_norm]", "groups (4)", "6 channels"});
  check_throws_with([&] { group_norm(x, 3, std::nullopt, zeros({4})); },
                    {"[group_norm]", "bias", "(4)"});
  check_throws_with([&] { group_norm(zeros({6}), 3, std::nullopt, std::nullopt); },
                    {"[group_norm]", "(6)"});
  check_throws_with([&] { batch_norm(x, zeros({6}), zeros({4}), std::nullopt, std::nullopt); },
                    {"[batch_norm]", "running_var", "(4)"});
}

TEST_CASE("dropout", "[nn][dropout]") {
  array key = random::key(7);
  array x = astype(reshape(arange(1.0, 2001.0, 1.0), {40, 50}), float32);
  // Identity cases return the input itself.
  CHECK(dropout(x, 0.0, key).id() == x.id());
  CHECK(dropout(x, 0.5, key, false).id() == x.id());
  check_close(dropout(x, 1.0, key), std::vector<double>(2000, 0.0), {40, 50});

  array y = dropout(x, 0.25, key);
  CHECK(y.dtype() == float32);
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] != 0) {
      ++kept;
      CHECK(std::abs(yv[i] - xv[i] / 0.75) <= 1e-6 * yv[i]);
    }
  }
  // 1500 expected keeps; binomial sd ~19.
  CHECK(kept > 1400);
  CHECK(kept < 1600);
  // Same key, same mask; another key, another mask.
  CHECK(array_equal(dropout(x, 0.25, key), y));
  CHECK_FALSE(array_equal(dropout(x, 0.25, random::key(8)), y));
  // The mask is bernoulli(key, 1 - p) exactly.
  array mask = random::bernoulli(key, array(0.75f), {40, 50});
  CHECK(array_equal(not_equal(y, zeros({}, float32)), mask));

  check_throws_with([&] { dropout(x, 1.5, key); }, {"[dropout]", "1.5"});
  check_throws_with([&] { dropout(x, -0.1, key); }, {"[dropout]", "-0.1"});
  check_throws_with([&] { dropout(x, std::nan(""), key); }, {"[dropout]", "nan"});
}
