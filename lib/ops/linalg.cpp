// matmul: numpy.matmul shape rules on top of the batched Matmul primitive.
#include "mfx/linalg.h"

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/linalg.h"

namespace mfx {

array matmul(const array& a, const array& b) {
  // The batch broadcast and the product's shape are size-checked inside
  // (broadcast_to, the Matmul node): their errors name matmul.
  PublicOpScope scope("matmul");
  check_valid(a, "matmul");
  check_valid(b, "matmul");
  auto incompatible = [&]() {
    return std::invalid_argument(fmt::format("[matmul] shapes {} and {} are incompatible",
                                             shape_str(a.shape()), shape_str(b.shape())));
  };
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument(
        fmt::format("[matmul] shapes {} and {} are incompatible: 0-d operands are not matrices",
                    shape_str(a.shape()), shape_str(b.shape())));
  }
  Dtype t = to_floating(promote_types(a.dtype(), b.dtype()));
  // 1-d operands become a row (left) or a column (right) matrix.
  array x = a.ndim() == 1 ? reshape(a, {1, a.shape()[0]}) : a;
  array y = b.ndim() == 1 ? reshape(b, {b.shape()[0], 1}) : b;
  const int64_t M = x.shape(-2), K = x.shape(-1), N = y.shape(-1);
  if (y.shape(-2) != K) throw incompatible();
  Shape xb(x.shape().begin(), x.shape().end() - 2), yb(y.shape().begin(), y.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(xb, yb, "matmul");
  } catch (const std::invalid_argument&) {
    throw incompatible();
  }
  Shape xs = batch, ys = batch, out = batch;
  xs.insert(xs.end(), {M, K});
  ys.insert(ys.end(), {K, N});
  out.insert(out.end(), {M, N});
  x = broadcast_to(astype(x, t), xs);
  y = broadcast_to(astype(y, t), ys);
  array r(out, t, std::make_shared<Matmul>(), {x, y});
  // Drop the axes added for 1-d operands.
  Shape final_shape = batch;
  if (a.ndim() > 1) final_shape.push_back(M);
  if (b.ndim() > 1) final_shape.push_back(N);
  return final_shape == out ? r : reshape(r, final_shape);
}

}  // namespace mfx
