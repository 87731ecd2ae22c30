// einsum: parses the subscripts, sums indices private to one operand, then
// contracts operands pairwise left to right through matmul (shared indices
// kept in the output or needed later become batch axes).
#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "mfx/linalg.h"
#include "ops/op_utils.h"

namespace mfx {

namespace {

// An operand during contraction: the array and one index letter per axis.
struct Term {
  array value;
  std::string idx;
};

[[noreturn]] void fail(const std::string& subscripts, const std::string& why) {
  throw std::invalid_argument(
      fmt::format("[einsum] invalid subscripts \"{}\": {}", subscripts, why));
}

bool contains(const std::string& s, char c) {
  return s.find(c) != std::string::npos;
}

// Splits "ij,jk->ik" into input terms and the output (implicit form: numpy's
// sorted indices that appear exactly once).
std::pair<std::vector<std::string>, std::string> parse(const std::string& subscripts) {
  std::string s;
  for (char c : subscripts)
    if (!std::isspace(static_cast<unsigned char>(c))) s.push_back(c);
  if (s.find('.') != std::string::npos) fail(subscripts, "ellipsis ('...') is not supported");
  size_t arrow = s.find("->");
  std::string lhs = s.substr(0, arrow);
  std::vector<std::string> terms{""};
  for (char c : lhs) {
    if (c == ',') {
      terms.emplace_back();
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      terms.back().push_back(c);
    } else {
      fail(subscripts, fmt::format("unexpected character '{}' (indices are letters)", c));
    }
  }
  for (size_t t = 0; t < terms.size(); ++t) {
    for (size_t i = 0; i < terms[t].size(); ++i) {
      if (terms[t].find(terms[t][i], i + 1) != std::string::npos) {
        fail(subscripts, fmt::format("index '{}' repeats within operand {} (\"{}\"); diagonals "
                                     "are not supported",
                                     terms[t][i], t, terms[t]));
      }
    }
  }
  std::string out;
  if (arrow == std::string::npos) {
    std::map<char, int> count;
    for (auto& t : terms)
      for (char c : t) ++count[c];
    for (auto& [c, n] : count)
      if (n == 1) out.push_back(c);  // std::map iterates in character order
  } else {
    std::string rhs = s.substr(arrow + 2);
    if (rhs.find("->") != std::string::npos || rhs.find('-') != std::string::npos ||
        rhs.find('>') != std::string::npos) {
      fail(subscripts, "more than one '->'");
    }
    for (size_t i = 0; i < rhs.size(); ++i) {
      char c = rhs[i];
      if (!std::isalpha(static_cast<unsigned char>(c))) {
        fail(subscripts, fmt::format("unexpected character '{}' in the output", c));
      }
      if (rhs.find(c, i + 1) != std::string::npos) {
        fail(subscripts, fmt::format("output index '{}' appears more than once", c));
      }
      bool found = std::any_of(terms.begin(), terms.end(),
                               [&](const std::string& t) { return contains(t, c); });
      if (!found) fail(subscripts, fmt::format("output index '{}' appears in no operand", c));
    }
    out = rhs;
  }
  return {terms, out};
}

// Transposes `t` so its indices follow `order` (a permutation of t.idx).
array permute(const Term& t, const std::string& order) {
  std::vector<int> axes;
  for (char c : order) axes.push_back(static_cast<int>(t.idx.find(c)));
  return transpose(t.value, axes);
}

int64_t extent(const std::map<char, int64_t>& sizes, const std::string& idx) {
  int64_t n = 1;
  for (char c : idx) n *= sizes.at(c);
  return n;
}

Shape dims(const std::map<char, int64_t>& sizes, const std::string& idx) {
  Shape s;
  for (char c : idx) s.push_back(sizes.at(c));
  return s;
}

// Contracts two terms; `keep` lists indices needed after this step.
Term contract(const Term& a, const Term& b, const std::string& keep,
              const std::map<char, int64_t>& sizes) {
  std::string batch, sum, free_a, free_b;
  for (char c : a.idx) {
    if (contains(b.idx, c)) {
      (contains(keep, c) ? batch : sum).push_back(c);
    } else {
      free_a.push_back(c);
    }
  }
  for (char c : b.idx)
    if (!contains(a.idx, c)) free_b.push_back(c);
  std::string out_idx = batch + free_a + free_b;
  Shape out_shape = dims(sizes, out_idx);
  if (sum.empty()) {
    // No contraction: a broadcast product.
    Shape sa = dims(sizes, batch + free_a), sb = dims(sizes, batch);
    sa.insert(sa.end(), free_b.size(), 1);
    sb.insert(sb.end(), free_a.size(), 1);
    Shape fb = dims(sizes, free_b);
    sb.insert(sb.end(), fb.begin(), fb.end());
    array x = reshape(permute(a, batch + free_a), sa);
    array y = reshape(permute(b, batch + free_b), sb);
    return {multiply(x, y), out_idx};
  }
  const int64_t nb = extent(sizes, batch), m = extent(sizes, free_a), n = extent(sizes, free_b),
                k = extent(sizes, sum);
  array x = reshape(permute(a, batch + free_a + sum), {nb, m, k});
  array y = reshape(permute(b, batch + sum + free_b), {nb, k, n});
  return {reshape(matmul(x, y), out_shape), out_idx};
}

}  // namespace

array einsum(const std::string& subscripts, const std::vector<array>& operands) {
  for (auto& op : operands) check_valid(op, "einsum");
  auto [terms, out] = parse(subscripts);
  if (operands.empty() || operands.size() > 3) {
    throw std::invalid_argument(
        fmt::format("[einsum] expected 1 to 3 operands, got {}", operands.size()));
  }
  if (terms.size() != operands.size()) {
    fail(subscripts, fmt::format("{} terms for {} operands", terms.size(), operands.size()));
  }
  Dtype t = operands[0].dtype();
  for (auto& op : operands) t = promote_types(t, op.dtype());
  t = to_floating(t);

  std::map<char, int64_t> sizes;
  std::vector<Term> work;
  for (size_t i = 0; i < operands.size(); ++i) {
    const array& op = operands[i];
    if (static_cast<int>(terms[i].size()) != op.ndim()) {
      fail(subscripts, fmt::format("term \"{}\" has {} indices but operand {} has shape {}",
                                   terms[i], terms[i].size(), i, shape_str(op.shape())));
    }
    for (int d = 0; d < op.ndim(); ++d) {
      char c = terms[i][d];
      auto [it, fresh] = sizes.emplace(c, op.shape()[d]);
      if (!fresh && it->second != op.shape()[d]) {
        throw std::invalid_argument(fmt::format(
            "[einsum] index '{}' has size {} in operand {} (shape {}) but size {} elsewhere", c,
            op.shape()[d], i, shape_str(op.shape()), it->second));
      }
    }
    work.push_back({astype(op, t), terms[i]});
  }

  // Indices that live in one operand only and not in the output are summed
  // right away; this keeps every later contraction a plain matmul.
  for (size_t i = 0; i < work.size(); ++i) {
    std::vector<int> axes;
    std::string rest;
    for (size_t d = 0; d < work[i].idx.size(); ++d) {
      char c = work[i].idx[d];
      bool elsewhere = contains(out, c);
      for (size_t j = 0; j < work.size() && !elsewhere; ++j) {
        elsewhere = j != i && contains(work[j].idx, c);
      }
      if (elsewhere) {
        rest.push_back(c);
      } else {
        axes.push_back(static_cast<int>(d));
      }
    }
    if (!axes.empty()) work[i] = {sum(work[i].value, axes), rest};
  }

  Term acc = work[0];
  for (size_t i = 1; i < work.size(); ++i) {
    std::string keep = out;
    for (size_t j = i + 1; j < work.size(); ++j) keep += work[j].idx;
    acc = contract(acc, work[i], keep, sizes);
  }
  return permute(acc, out);
}

}  // namespace mfx
