// Reshape index digits without division (compiler/jit/index_digits.h): the
// algebra against brute force over every index, and jitted reshapes against
// eager with their kernels checked for divisions.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "compiler/jit/index_digits.h"
#include "grad_check.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::compiler::ExprKind;
using mfx::compiler::Phase;
using mfx::compiler::PhaseBuilder;
using mfx::jit_detail::index_digit;
using mfx::jit_detail::IndexTerm;
using mfx::jit_detail::sum_of_terms;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  return o.str() + ")";
}

// Evaluates the index expression `id` of `phase` at domain point `at`.
int64_t eval_index(const Phase& phase, int id, const std::vector<int64_t>& at) {
  const auto& e = phase.exprs[id];
  switch (e.kind) {
    case ExprKind::Const:
      return static_cast<int64_t>(e.value);
    case ExprKind::DomainIndex:
      return at[e.axis];
    case ExprKind::Binary: {
      const int64_t a = eval_index(phase, e.operands[0], at);
      const int64_t b = eval_index(phase, e.operands[1], at);
      switch (e.binary_op) {
        case BinaryOp::Add:
          return a + b;
        case BinaryOp::Multiply:
          return a * b;
        case BinaryOp::FloorDivide:
          return a / b;  // operands are non-negative here
        case BinaryOp::Remainder:
          return a % b;
        default:
          break;
      }
      break;
    }
    default:
      break;
  }
  FAIL("unexpected expression in an index");
  return 0;
}

int count_divisions(const Phase& phase) {
  int n = 0;
  for (const auto& e : phase.exprs) {
    n += e.kind == ExprKind::Binary &&
         (e.binary_op == BinaryOp::FloorDivide || e.binary_op == BinaryOp::Remainder);
  }
  return n;
}

// Every digit of reshaping shape `from` (indices i) to `to`, checked at every
// index against floor(lin / stride) % extent. Returns how many digits split.
int check_reshape_digits(const std::vector<int64_t>& from, const std::vector<int64_t>& to) {
  Phase phase;
  PhaseBuilder b(phase);
  std::vector<IndexTerm> terms;
  std::vector<int64_t> from_strides(from.size()), to_strides(to.size());
  int64_t stride = 1;
  for (size_t j = from.size(); j-- > 0;) from_strides[j] = stride, stride *= from[j];
  stride = 1;
  for (size_t j = to.size(); j-- > 0;) to_strides[j] = stride, stride *= to[j];
  for (size_t j = 0; j < from.size(); ++j) {
    terms.push_back({b.domain_index(static_cast<int>(j)), from[j], from_strides[j]});
  }
  int split = 0;
  for (size_t i = 0; i < to.size(); ++i) {
    auto digit = index_digit(terms, to_strides[i], to[i], b);
    if (!digit) continue;
    ++split;
    const int id = sum_of_terms(*digit, b);
    std::vector<int64_t> at(from.size(), 0);
    int64_t first_wrong = -1;
    for (int64_t lin = 0; lin < stride && first_wrong < 0; ++lin) {
      int64_t rest = lin;
      for (size_t j = from.size(); j-- > 0;) at[j] = rest % from[j], rest /= from[j];
      if (eval_index(phase, id, at) != (lin / to_strides[i]) % to[i]) first_wrong = lin;
    }
    INFO("reshape " << shape_text(from) << " -> " << shape_text(to) << ", digit " << i);
    CHECK(first_wrong == -1);
  }
  return split;
}

}  // namespace

TEST_CASE("index digits of splits and merges need no division of the linear index") {
  // Merges and splits of aligned dims: every digit splits.
  CHECK(check_reshape_digits({2400, 256}, {8, 300, 256}) == 3);
  CHECK(check_reshape_digits({8, 300, 256}, {2400, 256}) == 2);
  CHECK(check_reshape_digits({6, 4}, {24}) == 1);
  CHECK(check_reshape_digits({24}, {2, 3, 4}) == 3);
  CHECK(check_reshape_digits({2, 3, 4}, {6, 4}) == 2);
  CHECK(check_reshape_digits({1, 5, 1, 7}, {35}) == 1);
  // Dims that cross each other: (6,4) -> (4,6) has digits that carry, which
  // the caller computes from the linear index; the ones that split are exact.
  CHECK(check_reshape_digits({6, 4}, {4, 6}) < 2);
  check_reshape_digits({3, 10}, {5, 6});
  check_reshape_digits({12, 5}, {4, 15});
}

TEST_CASE("a split digit uses one division of a single index, not of the sum") {
  Phase phase;
  PhaseBuilder b(phase);
  const std::vector<IndexTerm> terms{{b.domain_index(0), 2400, 256}, {b.domain_index(1), 256, 1}};
  const size_t before = phase.exprs.size();
  auto outer = index_digit(terms, 76800, 8, b);  // i0 / 300
  REQUIRE(outer);
  REQUIRE(outer->size() == 1);
  auto middle = index_digit(terms, 256, 300, b);  // i0 % 300
  REQUIRE(middle);
  auto inner = index_digit(terms, 1, 256, b);  // i1
  REQUIRE(inner);
  REQUIRE(inner->size() == 1);
  CHECK(phase.exprs[(*inner)[0].expr].kind == ExprKind::DomainIndex);
  // One FloorDivide (i0 / 300) and one Remainder (i0 % 300), nothing else.
  Phase added;
  added.exprs.assign(phase.exprs.begin() + static_cast<long>(before), phase.exprs.end());
  CHECK(count_divisions(added) == 2);
  // A digit that does not split emits nothing.
  const size_t n = phase.exprs.size();
  CHECK_FALSE(index_digit({{b.domain_index(0), 6, 4}, {b.domain_index(1), 4, 1}}, 6, 4, b));
  CHECK(phase.exprs.size() == n + 2);  // only the two domain indices of the call
  // Terms that are not the digits of one shape can carry into each other:
  // i + j with i, j in [0, 4) reaches 4, so neither its quotient by 4 nor its
  // remainder modulo 4 is a sum of the terms.
  const std::vector<IndexTerm> overlapping{{b.domain_index(0), 4, 1}, {b.domain_index(1), 4, 1}};
  CHECK_FALSE(index_digit(overlapping, 4, 8, b));
  CHECK_FALSE(index_digit(overlapping, 1, 4, b));
  CHECK(index_digit(overlapping, 1, 8, b));  // the sum itself stays below 8
}

TEST_CASE("jitted reshapes agree with eager, and aligned ones divide nothing") {
  namespace fs = std::filesystem;
  struct Case {
    std::vector<int> from, to;
    bool aligned;
  };
  const std::vector<Case> cases{{{12, 8}, {3, 4, 8}, true},
                                {{3, 4, 8}, {12, 8}, true},
                                {{2, 15, 4}, {6, 20}, true},  // both refine (2,3,5,4)
                                {{6, 4}, {4, 6}, false},
                                {{3, 10}, {5, 6}, false}};
  for (const auto& c : cases) {
    Shape from(c.from.begin(), c.from.end()), to(c.to.begin(), c.to.end());
    auto f = [to](const std::vector<array>& x) {
      // exp before and after keeps the reshape inside one fused kernel.
      return std::vector<array>{exp(reshape(exp(x[0]) * 0.5, to)) + 1.0};
    };
    const array x = rand_like(from, 3) * 0.1;
    const fs::path dir = fs::temp_directory_path() / "mfx_test_index_digits";
    fs::remove_all(dir);
    JitOptions o;
    o.name = "digits";
    auto jf = jit(f, o);
    const array got = jf({x})[0];
    const array want = f({x})[0];
    INFO("reshape " << from.size() << "-d -> " << to.size() << "-d, aligned " << c.aligned);
    check_close(got, values(want), to);
    jf.write_report(dir.string());
    // Divisions of a sum (a linear index), read off the kernels' listings:
    // "%7 = FloorDivide %5, %6" where %5 is an Add. A split still divides
    // its one index.
    int divisions = 0, kernels = 0;
    for (const auto& entry : fs::directory_iterator(dir / "kernels")) {
      if (entry.path().extension() != ".kir") continue;
      ++kernels;
      std::ifstream in(entry.path());
      std::map<std::string, std::string> op_of;  // "%5" -> "Add", per phase
      for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string id, eq, op, a;
        words >> id;
        if (id == "phase") op_of.clear();
        if (!(words >> eq >> op) || eq != "=") continue;
        op_of[id] = op;
        if (op == "FloorDivide" && words >> a) {
          if (!a.empty() && a.back() == ',') a.pop_back();
          divisions += op_of[a] == "Add";
        }
      }
    }
    REQUIRE(kernels >= 1);
    if (c.aligned) {
      CHECK(divisions == 0);
    } else {
      CHECK(divisions > 0);
    }
    fs::remove_all(dir);
  }
}
