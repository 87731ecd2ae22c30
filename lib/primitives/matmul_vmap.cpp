// Batching rule of Matmul: the batch becomes a leading batch dimension of the
// product. A batched left operand against a shared matrix folds the batch
// into the rows instead (one larger GEMM rather than many small ones).
#include "mfx/ops.h"
#include "primitives/linalg.h"
#include "transforms/batching.h"

namespace mfx {

std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  const array &a = inputs[0], &b = inputs[1];
  const Shape& out = outputs[0].shape();
  if (axes[1] < 0 && b.ndim() == 2 && axes[0] >= 0 && axes[0] < a.ndim() - 1) {
    // Every batch axis of a except K folds into the rows: [..., M, K] -> [rows, K].
    array a2 = batching::to_front(a, axes[0]);
    // The row count is given, not inferred: -1 cannot be inferred when K is 0.
    int64_t nrows = 1;
    for (size_t d = 0; d + 1 < a2.shape().size(); ++d) nrows *= a2.shape()[d];
    array rows = reshape(a2, {nrows, a2.shape().back()});
    array prod = array({rows.shape()[0], b.shape()[1]}, outputs[0].dtype(),
                       std::make_shared<Matmul>(), {rows, b});
    return {{reshape(prod, batching::with_batch(batch, out))}, {0}};
  }
  array a2 = batching::to_front_broadcast(a, axes[0], batch);
  array b2 = batching::to_front_broadcast(b, axes[1], batch);
  return {
      {array(batching::with_batch(batch, out), outputs[0].dtype(), shared_from_this(), {a2, b2})},
      {0}};
}

}  // namespace mfx
