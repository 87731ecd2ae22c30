// Exact linear assignment: brute force on small matrices, scipy fixtures on
// 300-query matrices, a dual optimality certificate, array layouts, batches
// and errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "mfx/criteria/assignment.h"
#include "mfx/io.h"
#include "test_utils.h"

using namespace mfx;
using criteria::Assignment;
using criteria::batched_linear_sum_assignment;
using criteria::linear_sum_assignment;
using test::check_throws_with;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Row-major [rows, cols] cost matrix.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> c;
  double at(int64_t i, int64_t j) const { return c[i * cols + j]; }
};

// Checks that `a` assigns every row to distinct columns listed ascending and
// that its cost is the sum of the chosen entries.
void check_structure(const Matrix& m, const Assignment& a) {
  REQUIRE(static_cast<int64_t>(a.rows.size()) == m.rows);
  REQUIRE(a.cols.size() == a.rows.size());
  std::vector<int> row_used(m.rows, 0);
  double sum = 0;
  for (size_t p = 0; p < a.rows.size(); ++p) {
    REQUIRE(a.rows[p] >= 0);
    REQUIRE(a.rows[p] < m.rows);
    REQUIRE(a.cols[p] >= 0);
    REQUIRE(a.cols[p] < m.cols);
    if (p > 0) CHECK(a.cols[p - 1] < a.cols[p]);
    row_used[a.rows[p]]++;
    sum += m.at(a.rows[p], a.cols[p]);
  }
  for (int used : row_used) CHECK(used == 1);
  CHECK(std::isfinite(a.cost));
  CHECK(a.cost == Approx(sum).margin(1e-12));
}

// Optimality certificate, independent of the solver: with v <= 0, v = 0 on
// unassigned columns, u_i + v_j <= c_ij everywhere and equality on the
// assigned pairs, every assignment costs at least sum(u) + sum(v) = cost.
void check_certificate(const Matrix& m, const Assignment& a, double tol = 1e-9) {
  REQUIRE(static_cast<int64_t>(a.row_duals.size()) == m.rows);
  REQUIRE(static_cast<int64_t>(a.col_duals.size()) == m.cols);
  const auto& u = a.row_duals;
  const auto& v = a.col_duals;
  std::vector<char> assigned(m.cols, 0);
  for (auto j : a.cols) assigned[j] = 1;
  double scale = 1;
  for (double x : m.c) {
    if (std::isfinite(x)) scale = std::max(scale, std::abs(x));
  }
  const double eps = tol * scale;
  int violations = 0;
  for (int64_t j = 0; j < m.cols; ++j) {
    REQUIRE(std::isfinite(v[j]));
    if (v[j] > eps || (!assigned[j] && v[j] != 0)) ++violations;
  }
  for (int64_t i = 0; i < m.rows; ++i) {
    REQUIRE(std::isfinite(u[i]));
    for (int64_t j = 0; j < m.cols; ++j) {
      if (u[i] + v[j] > m.at(i, j) + eps) ++violations;
    }
  }
  CHECK(violations == 0);
  double dual = 0;
  for (size_t p = 0; p < a.rows.size(); ++p) {
    double c = m.at(a.rows[p], a.cols[p]);
    CHECK(std::abs(u[a.rows[p]] + v[a.cols[p]] - c) <= eps);
  }
  for (double x : u) dual += x;
  for (double x : v) dual += x;
  CHECK(std::abs(dual - a.cost) <= eps * (1 + m.rows));
}

// Smallest total cost over all injective row -> column maps (+inf if none is
// finite), by enumeration.
double brute_force(const Matrix& m, int64_t row, std::vector<char>& used) {
  if (row == m.rows) return 0;
  double best = kInf;
  for (int64_t j = 0; j < m.cols; ++j) {
    if (used[j] || m.at(row, j) == kInf) continue;
    used[j] = 1;
    best = std::min(best, m.at(row, j) + brute_force(m, row + 1, used));
    used[j] = 0;
  }
  return best;
}

// The splitmix64 matrices of tests/fixtures/gen_assignment_fixtures.py.
struct SplitMix64 {
  uint64_t state;
  double unit() {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 40) / static_cast<double>(1 << 24);
  }
};

Matrix fixture_matrix(uint64_t seed, int64_t rows, int64_t cols, int variant) {
  SplitMix64 g{seed};
  Matrix m{rows, cols, std::vector<double>(rows * cols)};
  for (auto& x : m.c) {
    double a = g.unit();
    if (variant == 0) {
      x = a;
    } else if (variant == 1) {
      x = std::floor(10 * a);
    } else {
      double b = g.unit();
      x = b < 0.1 ? kInf : 2 * a - 1;
    }
  }
  return m;
}

array to_array(const Matrix& m, Dtype dtype = float64) {
  return array(m.c, {m.rows, m.cols}, dtype);
}

}  // namespace

TEST_CASE("linear_sum_assignment: hand-checked examples") {
  // scipy: C = [[4,1,3],[2,0,5],[3,2,2]]; linear_sum_assignment(C.T) -> [0 1 2] [1 0 2], 5
  Matrix sq{3, 3, {4, 1, 3, 2, 0, 5, 3, 2, 2}};
  auto a = linear_sum_assignment(sq.c.data(), 3, 3);
  CHECK(a.cols == std::vector<int64_t>{0, 1, 2});
  CHECK(a.rows == std::vector<int64_t>{1, 0, 2});
  CHECK(a.cost == 5);
  check_certificate(sq, a);

  // scipy: C = [[5,1,9,2],[1,7,3,8]]; linear_sum_assignment(C.T) -> [0 1] [1 0], 2
  Matrix rect{2, 4, {5, 1, 9, 2, 1, 7, 3, 8}};
  auto b = linear_sum_assignment(rect.c.data(), 2, 4);
  CHECK(b.cols == std::vector<int64_t>{0, 1});
  CHECK(b.rows == std::vector<int64_t>{1, 0});
  CHECK(b.cost == 2);
  check_certificate(rect, b);

  // The greedy choice (row 0 takes its minimum, column 0) is not optimal.
  Matrix greedy{2, 2, {1, 2, 1, 100}};
  auto g = linear_sum_assignment(greedy.c.data(), 2, 2);
  CHECK(g.rows == std::vector<int64_t>{1, 0});
  CHECK(g.cost == 3);
}

TEST_CASE("linear_sum_assignment: empty and single-row problems") {
  auto none = linear_sum_assignment(nullptr, 0, 0);
  CHECK(none.rows.empty());
  CHECK(none.cols.empty());
  CHECK(none.cost == 0);

  Matrix empty{0, 4, {}};
  auto e = linear_sum_assignment(nullptr, 0, 4);
  CHECK(e.rows.empty());
  CHECK(e.cost == 0);
  CHECK(e.col_duals == std::vector<double>(4, 0.0));
  check_certificate(empty, e);

  Matrix one{1, 5, {3, -2, 7, -2.5, 0}};
  auto o = linear_sum_assignment(one.c.data(), 1, 5);
  CHECK(o.cols == std::vector<int64_t>{3});
  CHECK(o.rows == std::vector<int64_t>{0});
  CHECK(o.cost == -2.5);
  check_certificate(one, o);

  auto arr = linear_sum_assignment(zeros({0, 300}, float32));
  CHECK(arr.rows.empty());
  CHECK(arr.col_duals.size() == 300);
}

TEST_CASE("linear_sum_assignment: brute force on small random matrices") {
  std::mt19937_64 rng(20261124);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::uniform_int_distribution<int> small_int(0, 3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int feasible_with_inf = 0, infeasible = 0, with_ties = 0, checked = 0;
  for (int trial = 0; trial < 600; ++trial) {
    int64_t cols = trial % 8;
    int64_t rows = std::min<int64_t>(cols, trial / 8 % 7);
    int kind = trial / 56 % 3;  // 0 signed reals, 1 small integers (ties), 2 with +inf
    Matrix m{rows, cols, std::vector<double>(rows * cols)};
    for (auto& x : m.c) {
      if (kind == 1) {
        x = small_int(rng);
      } else {
        x = normal(rng);
        if (kind == 2 && unit(rng) < 0.35) x = kInf;
      }
    }
    INFO("trial " << trial << " shape " << shape_str({rows, cols}) << " kind " << kind);
    std::vector<char> used(cols, 0);
    double best = brute_force(m, 0, used);
    if (best == kInf) {
      check_throws_with([&] { linear_sum_assignment(m.c.data(), rows, cols); },
                        {"[linear_sum_assignment]", shape_str({rows, cols}), "infeasible"});
      ++infeasible;
      continue;
    }
    auto a = linear_sum_assignment(m.c.data(), rows, cols);
    check_structure(m, a);
    CHECK(a.cost == Approx(best).margin(1e-12));
    check_certificate(m, a);
    if (kind == 2 && std::count(m.c.begin(), m.c.end(), kInf) > 0) ++feasible_with_inf;
    if (kind == 1 && rows > 1) ++with_ties;
    ++checked;
  }
  // The loop must have exercised every regime.
  CHECK(infeasible > 5);
  CHECK(feasible_with_inf > 20);
  CHECK(with_ties > 50);
  CHECK(checked > 400);
}

TEST_CASE("linear_sum_assignment: scipy fixtures on 300-query matrices") {
  auto fx = load_safetensors(mfx::test::data_path("assignment_fixtures.safetensors"));
  int cases = 0;
  for (const char* name : {"uniform_m1", "uniform_m10", "uniform_m50", "uniform_m100", "ties_m50",
                           "ties_m100", "signed_inf_m100"}) {
    INFO("case " << name);
    std::string n = name;
    auto params = fx.at(n + ".params").to_vector<int64_t>();
    REQUIRE(params.size() == 4);
    Matrix m = fixture_matrix(static_cast<uint64_t>(params[0]), params[1], params[2],
                              static_cast<int>(params[3]));
    auto first = fx.at(n + ".first").to_vector<double>();
    for (size_t j = 0; j < first.size(); ++j) REQUIRE(m.at(0, j) == first[j]);

    auto a = linear_sum_assignment(m.c.data(), m.rows, m.cols);
    double scipy_cost = fx.at(n + ".cost").item<double>();
    check_structure(m, a);
    CHECK(a.cost == Approx(scipy_cost).epsilon(1e-12).margin(1e-9));
    check_certificate(m, a);
    if (params[3] == 0) {
      // Continuous costs: the optimum is unique, so the pairs match too.
      CHECK(a.cols == fx.at(n + ".queries").to_vector<int64_t>());
      CHECK(a.rows == fx.at(n + ".gts").to_vector<int64_t>());
      // The values are exact in float32, so the float32 array path agrees.
      auto b = linear_sum_assignment(to_array(m, float32));
      CHECK(b.cols == a.cols);
      CHECK(b.rows == a.rows);
    }
    ++cases;
  }
  CHECK(cases == 7);
}

TEST_CASE("linear_sum_assignment: array inputs of any layout") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  Matrix m{4, 6, std::vector<double>(24)};
  for (auto& x : m.c) x = unit(rng);
  auto expected = linear_sum_assignment(m.c.data(), 4, 6);

  auto same = [&](const Assignment& a) {
    CHECK(a.rows == expected.rows);
    CHECK(a.cols == expected.cols);
    CHECK(a.cost == Approx(expected.cost).margin(1e-12));
  };
  same(linear_sum_assignment(to_array(m)));
  // Transposed view of the [6, 4] (queries x GTs) matrix.
  array t = transpose(array(m.c, {4, 6}, float64));
  t.eval();
  array tt = transpose(t);
  same(linear_sum_assignment(tt));
  // Reversed rows and columns of the reversed matrix give back the original.
  Matrix rev{4, 6, std::vector<double>(24)};
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t j = 0; j < 6; ++j) rev.c[(3 - i) * 6 + (5 - j)] = m.at(i, j);
  }
  same(linear_sum_assignment(slice(to_array(rev), {-1, -1}, {-5, -7}, {-1, -1})));
  // A slice with an offset: rows 1..2, columns 2..5 of an [4, 8] matrix.
  Matrix big{4, 8, std::vector<double>(32)};
  for (auto& x : big.c) x = unit(rng);
  Matrix sub{2, 4, std::vector<double>(8)};
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 4; ++j) sub.c[i * 4 + j] = big.at(i + 1, j + 2);
  }
  auto s = linear_sum_assignment(slice(to_array(big), {1, 2}, {3, 6}));
  auto s_ref = linear_sum_assignment(sub.c.data(), 2, 4);
  CHECK(s.rows == s_ref.rows);
  CHECK(s.cols == s_ref.cols);
  // A broadcast view (stride 0): every row is [3, 1, 2, 0]; any assignment
  // of three distinct columns costs at least 0 + 1 + 2.
  auto bc = linear_sum_assignment(broadcast_to(array({3.0f, 1.0f, 2.0f, 0.0f}), {3, 4}));
  CHECK(bc.cost == 3);
  CHECK(bc.cols == std::vector<int64_t>{1, 2, 3});
  // Half precision inputs compute in double.
  auto h = linear_sum_assignment(astype(array({1.0f, 2.0f, 2.0f, 1.0f}, {2, 2}), float16));
  CHECK(h.cost == 2);
  CHECK(h.rows == std::vector<int64_t>{0, 1});
  // A lazy (unevaluated) input is evaluated.
  auto lazy = linear_sum_assignment(to_array(m) * 2.0);
  CHECK(lazy.rows == expected.rows);
  CHECK(lazy.cost == Approx(2 * expected.cost).margin(1e-12));
}

TEST_CASE("linear_sum_assignment: +inf entries are forbidden pairs") {
  // Only the anti-diagonal is finite.
  Matrix m{3, 3, {kInf, kInf, 1, kInf, 2, kInf, 3, kInf, kInf}};
  auto a = linear_sum_assignment(m.c.data(), 3, 3);
  CHECK(a.rows == std::vector<int64_t>{2, 1, 0});
  CHECK(a.cost == 6);
  check_certificate(m, a);

  // Row 1 and row 2 can only use column 0.
  Matrix bad{3, 4, {0, 1, 2, 3, 5, kInf, kInf, kInf, 7, kInf, kInf, kInf}};
  check_throws_with([&] { linear_sum_assignment(bad.c.data(), 3, 4); },
                    {"[linear_sum_assignment]", "(3,4)", "infeasible"});
}

TEST_CASE("linear_sum_assignment: errors") {
  std::vector<double> c = {0, 1, 2, 3, 4, 5};
  c[5] = std::nan("");
  check_throws_with([&] { linear_sum_assignment(c.data(), 2, 3); },
                    {"[linear_sum_assignment]", "(2,3)", "NaN at (1, 2)"});
  c[5] = 5;
  c[1] = -kInf;
  check_throws_with([&] { linear_sum_assignment(c.data(), 2, 3); },
                    {"[linear_sum_assignment]", "(2,3)", "-inf at (0, 1)"});
  check_throws_with(
      [&] {
        linear_sum_assignment(to_array(Matrix{2, 3, c}));
      },
      {"[linear_sum_assignment]", "(2,3)", "-inf at (0, 1)"});
  c[1] = 1;
  check_throws_with([&] { linear_sum_assignment(c.data(), 3, 2); },
                    {"[linear_sum_assignment]", "(3,2)", "more rows"});
  check_throws_with([&] { linear_sum_assignment(c.data(), -1, 2); },
                    {"[linear_sum_assignment]", "negative"});
  check_throws_with([&] { linear_sum_assignment(nullptr, 1, 2); },
                    {"[linear_sum_assignment]", "(1,2)", "null"});
  check_throws_with(
      [&] {
        linear_sum_assignment(zeros({2, 3, 4}));
      },
      {"[linear_sum_assignment]", "2-d", "(2,3,4)"});
  check_throws_with([&] { linear_sum_assignment(zeros({4})); },
                    {"[linear_sum_assignment]", "2-d", "(4)"});
  check_throws_with(
      [&] {
        linear_sum_assignment(zeros({2, 3}, int32));
      },
      {"[linear_sum_assignment]", "floating", "int32", "(2,3)"});
  check_throws_with(
      [&] {
        linear_sum_assignment(zeros({2, 3}, bool_));
      },
      {"[linear_sum_assignment]", "floating", "bool", "(2,3)"});
  check_throws_with([&] { linear_sum_assignment(array()); }, {"[linear_sum_assignment]", "null"});
  check_throws_with(
      [&] {
        linear_sum_assignment(zeros({5, 3}));
      },
      {"[linear_sum_assignment]", "(5,3)", "more rows"});
}

TEST_CASE("batched_linear_sum_assignment: padded ground truths") {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int64_t B = 4, M = 5, N = 7;
  const std::vector<int64_t> valid = {0, 2, 5, 1};
  std::vector<double> c(B * M * N);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        // Padded rows hold NaN: they must never be read.
        c[(b * M + i) * N + j] = i < valid[b] ? unit(rng) : std::nan("");
      }
    }
  }
  auto check = [&](const std::vector<Assignment>& got) {
    REQUIRE(got.size() == B);
    for (int64_t b = 0; b < B; ++b) {
      INFO("image " << b);
      Matrix m{valid[b], N,
               std::vector<double>(c.begin() + b * M * N, c.begin() + (b * M + valid[b]) * N)};
      auto ref = linear_sum_assignment(m.c.data(), m.rows, N);
      CHECK(got[b].rows == ref.rows);
      CHECK(got[b].cols == ref.cols);
      CHECK(got[b].cost == ref.cost);
      check_structure(m, got[b]);
      check_certificate(m, got[b]);
    }
  };
  array cost(c, {B, M, N}, float64);
  check(batched_linear_sum_assignment(cost, valid));
  // The same costs stored as [B, N, M] and viewed through a transpose.
  std::vector<double> ct(B * N * M);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) ct[(b * N + j) * M + i] = c[(b * M + i) * N + j];
    }
  }
  check(batched_linear_sum_assignment(transpose(array(ct, {B, N, M}, float64), {0, 2, 1}), valid));
  CHECK(batched_linear_sum_assignment(zeros({0, 3, 4}), {}).empty());
}

TEST_CASE("batched_linear_sum_assignment: errors") {
  const char* op = "[batched_linear_sum_assignment]";
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({3, 4}), {1, 1, 1});
      },
      {op, "3-d", "(3,4)"});
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({2, 3, 4}, int64), {1, 1});
      },
      {op, "floating", "int64", "(2,3,4)"});
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({2, 3, 4}), {1});
      },
      {op, "1 valid row counts", "(2,3,4)"});
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({2, 3, 4}), {1, 4});
      },
      {op, "image 1", "4 outside [0, 3]"});
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({2, 3, 4}), {-1, 0});
      },
      {op, "image 0", "-1 outside"});
  // More ground truths than queries in one image.
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(zeros({2, 5, 4}), {2, 5});
      },
      {op, "image 1", "(5,4)", "more rows"});
  std::vector<double> c(2 * 2 * 3, 1.0);
  c[(1 * 2 + 1) * 3 + 2] = std::nan("");
  check_throws_with(
      [&] {
        batched_linear_sum_assignment(array(c, {2, 2, 3}, float64), {2, 2});
      },
      {op, "image 1", "(2,3)", "NaN at (1, 2)"});
  // The NaN lies in a padded row of image 1: ignored.
  CHECK(batched_linear_sum_assignment(array(c, {2, 2, 3}, float64), {2, 1}).size() == 2);
}
