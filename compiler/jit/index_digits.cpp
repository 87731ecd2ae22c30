#include "compiler/jit/index_digits.h"

namespace mfx::jit_detail {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::optional<std::vector<IndexTerm>> index_digit(const std::vector<IndexTerm>& terms,
                                                  int64_t divisor, int64_t extent,
                                                  compiler::PhaseBuilder& b) {
  if (divisor <= 0 || extent <= 0) return std::nullopt;
  // S = divisor * Q + R with R < divisor, term by term: a term whose
  // coefficient is a multiple of the divisor goes to Q; one whose
  // coefficient divides it stays in R while it cannot reach the divisor,
  // else splits as expr = r * (expr / r) + expr % r with r = divisor / coeff.
  struct Pending {
    IndexTerm term;
    int64_t split = 0;  // > 0: Q takes term.expr / split
  };
  std::vector<Pending> quotient;
  int64_t remainder_max = 0;
  for (const auto& t : terms) {
    if (t.range <= 1 || t.coeff == 0) continue;  // always 0
    if (t.coeff < 0) return std::nullopt;
    if (t.coeff % divisor == 0) {
      quotient.push_back({{t.expr, t.range, t.coeff / divisor}});
      continue;
    }
    if (divisor % t.coeff != 0) return std::nullopt;
    const int64_t r = divisor / t.coeff;
    if (t.range <= r) {
      remainder_max += t.coeff * (t.range - 1);
    } else {
      remainder_max += t.coeff * (r - 1);
      quotient.push_back({{t.expr, ceil_div(t.range, r), 1}, r});
    }
    if (remainder_max >= divisor) return std::nullopt;
  }
  // Q % extent: terms whose coefficient is a multiple of the extent vanish;
  // the others (reduced by extent / coeff where they could reach it) must sum
  // to less than the extent, so the remainder is their sum.
  std::vector<IndexTerm> out;
  int64_t out_max = 0;
  std::vector<Pending> kept;
  for (const auto& p : quotient) {
    const IndexTerm& t = p.term;
    if (t.coeff % extent == 0) continue;
    if (extent % t.coeff != 0) return std::nullopt;
    const int64_t r = extent / t.coeff;
    out_max += t.coeff * (std::min(t.range, r) - 1);
    if (out_max >= extent) return std::nullopt;
    kept.push_back(p);
  }
  // Only now, with the digit known to split, emit the divisions.
  for (const auto& p : kept) {
    IndexTerm t = p.term;
    if (p.split > 0) t.expr = b.div(t.expr, b.index(p.split));
    const int64_t r = extent / t.coeff;
    if (t.range > r) {
      t.expr = b.mod(t.expr, b.index(r));
      t.range = r;
    }
    out.push_back(t);
  }
  return out;
}

int sum_of_terms(const std::vector<IndexTerm>& terms, compiler::PhaseBuilder& b) {
  int acc = -1;
  for (const auto& t : terms) {
    const int term = t.coeff == 1 ? t.expr : b.mul(t.expr, b.index(t.coeff));
    acc = acc < 0 ? term : b.add(acc, term);
  }
  return acc < 0 ? b.index(0) : acc;
}

}  // namespace mfx::jit_detail
