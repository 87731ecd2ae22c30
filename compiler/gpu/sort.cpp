// Sort, ArgSort and TopK on the GPU path (see sort.h).
#include "compiler/gpu/sort.h"

#include <fmt/format.h>

#include <memory>
#include <stdexcept>

#include "compiler/gpu/one_op.h"
#include "cuda/runtime.h"
#include "cuda/sort.h"
#include "ops/op_utils.h"
#include "primitives/indexing.h"

namespace mfx::gpu_detail {

namespace {

cuda::CUdeviceptr ptr(const array& a) {
  return reinterpret_cast<cuda::CUdeviceptr>(a.raw_data());
}

// `x` with its axes reordered: axis i of the view is axis perm[i] of x.
array permuted_view(const array& x, const std::vector<int>& perm) {
  Shape shape(perm.size());
  Strides strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    shape[i] = x.shape()[perm[i]];
    strides[i] = x.strides()[perm[i]];
  }
  array v(shape, x.dtype(), nullptr, {});
  v.set_view(x, strides, 0, x.data_size(), layout_flags(shape, strides, x.data_size()));
  return v;
}

// A row-major copy of `x` (x itself when it is one). float64 views are copied
// as their int64 bits: the code generator emits no float64 for the GPU, and
// a copy only moves bits.
array dense_bits(const array& x, compiler::Target target) {
  if (x.flags().row_contiguous || x.dtype() != float64) return dense_copy(x, target);
  array bits(x.shape(), int64, nullptr, {});
  bits.set_view(x, x.strides(), 0, x.data_size(), x.flags());
  array dense = dense_copy(bits, target);
  array out(x.shape(), float64, nullptr, {});
  out.set_view(dense, dense.strides(), 0, dense.data_size(), dense.flags());
  return out;
}

// Makes `out` (shape of the primitive's output) the view of `moved` (its
// shape permuted by `perm`, row-major) that undoes the permutation.
void unpermute_into(array& out, const array& moved, const std::vector<int>& perm) {
  Strides strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[perm[i]] = moved.strides()[i];
  out.set_view(moved, strides, 0, moved.data_size(),
               layout_flags(out.shape(), strides, moved.data_size()));
}

// Sorts the rows of the row-major `dense` ([..., n]) into `outs` (row-major,
// [..., k]) on the GPU: values and/or indices as the primitive produces them.
void sort_rows_gpu(const Primitive& p, const array& dense, std::vector<array>& outs, int64_t k,
                   bool descending, Device device) {
  for (array& o : outs) o.allocate(device);
  const int64_t n = dense.shape().back();
  cuda::SortProblem problem;
  problem.rows = 1;
  for (size_t d = 0; d + 1 < dense.shape().size(); ++d) problem.rows *= dense.shape()[d];
  problem.n = n;
  problem.k = k;
  problem.descending = descending;
  problem.op = p.name();
  const Dtype dtype = dense.dtype();
  cuda::sort_check_problem(problem, dtype);
  const bool values_out = dynamic_cast<const ArgSort*>(&p) == nullptr;
  const cuda::CUdeviceptr values = values_out ? ptr(outs[0]) : 0;
  const cuda::CUdeviceptr indices =
      values_out ? (outs.size() > 1 ? ptr(outs[1]) : 0) : ptr(outs[0]);
  // The scratch returns to the caching allocator when this function ends;
  // the stream orders its reuse after the kernels.
  array scratch;
  const size_t bytes = cuda::sort_scratch_bytes(problem, dtype);
  if (bytes > 0) {
    scratch = array::empty(Shape{static_cast<int64_t>(bytes)}, uint8, device);
  }
  cuda::sort_rows(problem, dtype, ptr(dense), values, indices, bytes > 0 ? ptr(scratch) : 0,
                  cuda::current_stream(device.index));
}

}  // namespace

bool eval_sort(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
               compiler::Target target, Device device) {
  auto* sort = dynamic_cast<Sort*>(&p);
  auto* argsort = dynamic_cast<ArgSort*>(&p);
  auto* topk = dynamic_cast<TopK*>(&p);
  if (!sort && !argsort && !topk) return false;
  const array& x = inputs[0];
  const int axis = sort ? sort->axis() : argsort ? argsort->axis() : topk->axis();
  if (axis < 0 || axis >= x.ndim()) {
    throw std::invalid_argument(fmt::format("[{}] axis {} is out of range for shape {}", p.name(),
                                            axis, shape_str(x.shape())));
  }
  const int last = x.ndim() - 1;
  // The sorted axis goes last; the other axes keep their order.
  std::vector<int> perm;
  for (int d = 0; d < x.ndim(); ++d) {
    if (d != axis) perm.push_back(d);
  }
  perm.push_back(axis);
  const bool moved = axis != last;
  array dense = dense_bits(moved ? permuted_view(x, perm) : x, target);
  std::vector<array> sorted;
  for (array& o : outputs) {
    if (!moved) {
      sorted.push_back(o);  // the same node: results land in the output
      continue;
    }
    Shape s(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) s[i] = o.shape()[perm[i]];
    sorted.push_back(array(s, o.dtype(), nullptr, {}));
  }
  const int64_t k = topk ? topk->k() : dense.shape().back();
  if (target == compiler::Target::Cpu) {
    // The CPU kernel of the same primitive along the last axis.
    std::shared_ptr<Primitive> rows;
    if (sort) rows = std::make_shared<Sort>(last);
    if (argsort) rows = std::make_shared<ArgSort>(last);
    if (topk) rows = std::make_shared<TopK>(k, last);
    rows->eval_cpu({dense}, sorted);
  } else {
    sort_rows_gpu(p, dense, sorted, k, topk != nullptr, device);
  }
  if (moved) {
    for (size_t i = 0; i < outputs.size(); ++i) unpermute_into(outputs[i], sorted[i], perm);
  }
  return true;
}

void register_sort_kernels(GpuKernelRegistry& r) {
  const char* route = "sort kernels (cuda/sort.h)";
  r.add<Sort>(eval_sort, route);
  r.add<ArgSort>(eval_sort, route);
  r.add<TopK>(eval_sort, route);
}

}  // namespace mfx::gpu_detail
