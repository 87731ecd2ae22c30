// Matrix products.
#pragma once

#include <string>
#include <vector>

#include "mfx/array.h"

namespace mfx {

/// numpy.matmul: a [..., M, K] @ b [..., K, N] -> [..., M, N]. A 1-d `a` is
/// treated as [1, K] and a 1-d `b` as [K, 1], the added axis being removed
/// from the result (two vectors give a 0-d dot product). Leading (batch) axes
/// broadcast with numpy rules. Floating types only: integer and bool inputs
/// are promoted to float32, mixed types promote like add; float16/bfloat16
/// multiply in float32 and round once at the end. K = 0 gives zeros.
/// CPU: OpenBLAS sgemm/dgemm; transposed views are read in place.
/// Throws std::invalid_argument for 0-d operands and mismatched inner or
/// batch dimensions: "[matmul] shapes (3,4) and (5,6) are incompatible".
array matmul(const array& a, const array& b);

/// Einstein summation over 1 to 3 operands, e.g. "ij,jk->ik", "bij,bjk->bik",
/// "bnd,bmd->bnm", "i,i->", "ij->ji", "ij,jk,kl->il". Indices are letters;
/// spaces are ignored. Without "->" the output is numpy's implicit form: the
/// indices that appear exactly once, in character order (upper case first).
/// An index private to one operand and absent from the output is summed
/// first; the operands are then contracted pairwise, left to right, through
/// matmul (shared indices kept for the output or a later operand are batch
/// axes), or multiplied elementwise when nothing is contracted. Dtypes as
/// matmul (integers compute in float32). Throws std::invalid_argument for
/// malformed strings, ellipses, an index repeated within one operand
/// (diagonals are not supported), a term whose length differs from its
/// operand's rank, and an index whose sizes differ between operands.
array einsum(const std::string& subscripts, const std::vector<array>& operands);

}  // namespace mfx
