// Index arithmetic of reshapes without division (internal to compiler/jit).
// A reshape reads its input at the digits of its output's linear index:
// floor(lin / stride) % extent. Emitted literally, every load behind a
// reshape costs a division and a remainder per element, and LLVM can neither
// prove the access unit-stride nor vectorise it. Where the dims of the two
// shapes line up (a split or a merge of dims, the usual case) the digit is a
// plain sum of the output's indices, or one index divided or reduced by a
// constant, which this computes from the indices' ranges alone.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "compiler/kernel_builder.h"

namespace mfx::jit_detail {

/// coeff * expr, where the int64 expression `expr` lies in [0, range).
struct IndexTerm {
  int expr;
  int64_t range;
  int64_t coeff;
};

/// floor(S / divisor) % extent for S = the sum of `terms`, as terms of the
/// same form (appending to `b` the divisions and remainders of single
/// indices it needs), or nullopt when a coefficient does not divide or is
/// not divided by divisor / extent, or the parts would carry into each
/// other. Then the caller divides the sum itself.
std::optional<std::vector<IndexTerm>> index_digit(const std::vector<IndexTerm>& terms,
                                                  int64_t divisor, int64_t extent,
                                                  compiler::PhaseBuilder& b);

/// The sum of the terms as an int64 expression (0 for none).
int sum_of_terms(const std::vector<IndexTerm>& terms, compiler::PhaseBuilder& b);

}  // namespace mfx::jit_detail
