// Indexing ops: take, take_along_axis, scatter, scatter_add, one_hot, sort,
// argsort, topk. Shapes and index dtypes are checked here; index values can
// only be checked by the kernels, at eval.
#include <limits>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/indexing.h"

namespace mfx {

namespace {

void check_indices(const array& indices, const char* op) {
  check_valid(indices, op);
  if (!is_integral(indices.dtype())) {
    throw std::invalid_argument(fmt::format(
        "[{}] indices must be an integer array (int32, int64 or uint8), got {} of shape {}", op,
        dtype_name(indices.dtype()), shape_str(indices.shape())));
  }
}

void check_same_rank(const array& a, const array& indices, const char* op) {
  if (indices.ndim() != a.ndim()) {
    throw std::invalid_argument(fmt::format(
        "[{}] indices of shape {} must have as many dimensions as the array of shape {}", op,
        shape_str(indices.shape()), shape_str(a.shape())));
  }
}

// argsort/topk report positions as int32.
void check_int32_extent(const array& a, int axis, const char* op) {
  if (a.shape()[axis] > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument(fmt::format(
        "[{}] axis {} of shape {} is too long for int32 indices", op, axis, shape_str(a.shape())));
  }
}

array scatter_impl(const array& a, const array& indices, const array& updates, int axis,
                   ScatterReduce reduce, const char* op) {
  check_valid(a, op);
  check_indices(indices, op);
  check_valid(updates, op);
  check_same_rank(a, indices, op);
  const int ax = normalize_axis(axis, a.shape(), op);
  // The output is a, so indices may only broadcast (size 1) into a's dims.
  Shape s = a.shape();
  s[ax] = indices.shape()[ax];
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != ax && indices.shape()[d] != a.shape()[d] && indices.shape()[d] != 1) {
      throw std::invalid_argument(
          fmt::format("[{}] indices of shape {} do not match the array of shape {} off axis {}", op,
                      shape_str(indices.shape()), shape_str(a.shape()), ax));
    }
  }
  Shape su = updates.shape();
  bool fits = su.size() <= s.size();
  for (size_t i = 0; fits && i < su.size(); ++i) {
    fits = su[i] == 1 || su[i] == s[s.size() - su.size() + i];
  }
  if (!fits) {
    throw std::invalid_argument(
        fmt::format("[{}] updates of shape {} cannot be broadcast to the indexed shape {}", op,
                    shape_str(su), shape_str(s)));
  }
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(ax, reduce),
               {a, broadcast_to(indices, s), broadcast_to(astype(updates, a.dtype()), s)});
}

}  // namespace

array take(const array& a, const array& indices, int axis) {
  // Built on the gather primitive: its size check must say "[take]".
  PublicOpScope scope("take");
  check_valid(a, "take");
  check_indices(indices, "take");
  const int ax = normalize_axis(axis, a.shape(), "take");
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  out.insert(out.end(), indices.shape().begin(), indices.shape().end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return array(std::move(out), a.dtype(), std::make_shared<Gather>(ax), {a, indices});
}

array take_along_axis(const array& a, const array& indices, int axis) {
  check_valid(a, "take_along_axis");
  check_indices(indices, "take_along_axis");
  check_same_rank(a, indices, "take_along_axis");
  const int ax = normalize_axis(axis, a.shape(), "take_along_axis");
  Shape out(a.ndim());
  for (int d = 0; d < a.ndim(); ++d) {
    int64_t da = a.shape()[d], di = indices.shape()[d];
    if (d != ax && da != di && da != 1 && di != 1) {
      throw std::invalid_argument(fmt::format(
          "[take_along_axis] indices of shape {} do not broadcast against the array of shape {} "
          "off axis {}",
          shape_str(indices.shape()), shape_str(a.shape()), ax));
    }
    out[d] = d == ax || da == 1 ? di : da;
  }
  Shape sa = out;
  sa[ax] = a.shape()[ax];
  return array(out, a.dtype(), std::make_shared<GatherAxis>(ax),
               {broadcast_to(a, sa), broadcast_to(indices, out)});
}

array scatter(const array& a, const array& indices, const array& updates, int axis) {
  return scatter_impl(a, indices, updates, axis, ScatterReduce::None, "scatter");
}

array scatter_add(const array& a, const array& indices, const array& updates, int axis) {
  return scatter_impl(a, indices, updates, axis, ScatterReduce::Add, "scatter_add");
}

array one_hot(const array& indices, int64_t num_classes, Dtype dtype) {
  check_indices(indices, "one_hot");
  if (num_classes < 0) {
    throw std::invalid_argument(
        fmt::format("[one_hot] num_classes must be non-negative, got {}", num_classes));
  }
  // Comparing with 0..n-1 leaves negative and too-large classes all zero.
  return as_public_op("one_hot", [&] {
    array classes = arange(num_classes, int64);
    return astype(equal(expand_dims(indices, -1), classes), dtype);
  });
}

array sort(const array& a, int axis) {
  check_valid(a, "sort");
  const int ax = normalize_axis(axis, a.shape(), "sort");
  return array(a.shape(), a.dtype(), std::make_shared<Sort>(ax), {a});
}

array argsort(const array& a, int axis) {
  check_valid(a, "argsort");
  const int ax = normalize_axis(axis, a.shape(), "argsort");
  check_int32_extent(a, ax, "argsort");
  return array(a.shape(), int32, std::make_shared<ArgSort>(ax), {a});
}

std::pair<array, array> topk(const array& a, int64_t k, int axis) {
  check_valid(a, "topk");
  const int ax = normalize_axis(axis, a.shape(), "topk");
  check_int32_extent(a, ax, "topk");
  const int64_t n = a.shape()[ax];
  if (k < 0 || k > n) {
    throw std::invalid_argument(
        fmt::format("[topk] k = {} is out of range for axis {} of size {} in shape {}", k, ax, n,
                    shape_str(a.shape())));
  }
  Shape s = a.shape();
  s[ax] = k;
  auto outs = array::make_arrays({s, s}, {a.dtype(), int32}, std::make_shared<TopK>(k, ax), {a});
  return {outs[0], outs[1]};
}

}  // namespace mfx
