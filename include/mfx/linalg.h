// Matrix products.
#pragma once

#include <string>
#include <vector>

#include "mfx/array.h"

namespace mfx {

/// numpy.matmul: 1-d operands are promoted to matrices and the added axis
/// removed afterwards; leading (batch) axes broadcast. Floating types only
/// (integers are promoted to float32). CPU: OpenBLAS sgemm/dgemm.
array matmul(const array& a, const array& b);

/// Einstein summation for the common cases ("ij,jk->ik", "bij,bjk->bik",
/// "bnd,bmd->bnm", "i,i->", "ij->ji", three operands, ...). Explicit output
/// ("->") or implicit numpy order; no ellipsis. Contracts pairwise, left to
/// right, through matmul.
array einsum(const std::string& subscripts, const std::vector<array>& operands);

}  // namespace mfx
