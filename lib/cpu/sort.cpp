// CPU kernels of Sort, ArgSort and TopK: each 1-d row along the axis is
// gathered into a scratch vector (values in the compute type, so halves
// compare as floats), ordered with the standard algorithms, and written back.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cpu/strided_copy.h"
#include "primitives/indexing.h"

namespace mfx {

namespace {

// Strict weak order "x before y" for an ascending sort with NaN last (all NaNs
// equivalent), like numpy.sort.
template <typename C>
bool nan_last_less(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    return !std::isnan(x) && (std::isnan(y) || x < y);
  } else {
    return x < y;
  }
}

// The type rows are sorted in: the compute type, with bytes standing in for
// bool (std::vector<bool> is bit-packed and sorts poorly).
template <typename T>
using sort_key_t = std::conditional_t<std::is_same_v<T, bool>, uint8_t, cpu::compute_t<T>>;

// Calls f(row, r) for each 1-d row along `axis` of `a`, in row-major order of
// the other axes: `row` holds the values as sort_key_t, `r` numbers the row.
template <typename T, typename F>
void for_each_axis_row(const array& a, int axis, F&& f) {
  using C = sort_key_t<T>;
  const int64_t n = a.shape()[axis];
  const int64_t stride = a.strides()[axis];
  std::vector<int64_t> rows = cpu::axis_row_offsets(a.shape(), a.strides(), axis);
  const T* src = a.data_ptr<T>();
  std::vector<C> row(static_cast<size_t>(n));
  for (size_t r = 0; r < rows.size(); ++r) {
    const T* p = src + rows[r];
    for (int64_t i = 0; i < n; ++i) row[i] = C(p[i * stride]);
    f(row, r);
  }
}

// Row start offsets and axis stride of a row-major output.
struct OutRows {
  std::vector<int64_t> rows;
  int64_t stride;
};
OutRows out_rows(const array& o, int axis) {
  return {cpu::axis_row_offsets(o.shape(), o.strides(), axis), o.strides()[axis]};
}

}  // namespace

void Sort::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  array& o = out[0];
  o.allocate();
  OutRows w = out_rows(o, axis_);
  cpu::dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = sort_key_t<T>;
    T* dst = o.data_ptr<T>();
    for_each_axis_row<T>(a, axis_, [&](std::vector<C>& row, size_t r) {
      std::stable_sort(row.begin(), row.end(), nan_last_less<C>);
      T* p = dst + w.rows[r];
      for (size_t i = 0; i < row.size(); ++i) p[i * w.stride] = T(row[i]);
    });
  });
}

void ArgSort::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  array& o = out[0];
  o.allocate();
  OutRows w = out_rows(o, axis_);
  int32_t* dst = o.data_ptr<int32_t>();
  std::vector<int32_t> order(static_cast<size_t>(a.shape()[axis_]));
  cpu::dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = sort_key_t<T>;
    for_each_axis_row<T>(a, axis_, [&](std::vector<C>& row, size_t r) {
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t i, int32_t j) { return nan_last_less(row[i], row[j]); });
      int32_t* p = dst + w.rows[r];
      for (size_t i = 0; i < order.size(); ++i) p[i * w.stride] = order[i];
    });
  });
}

void TopK::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  array& values = out[0];
  array& indices = out[1];
  values.allocate();
  indices.allocate();
  OutRows wv = out_rows(values, axis_);
  OutRows wi = out_rows(indices, axis_);
  int32_t* idst = indices.data_ptr<int32_t>();
  std::vector<int32_t> order(static_cast<size_t>(a.shape()[axis_]));
  cpu::dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = sort_key_t<T>;
    T* vdst = values.data_ptr<T>();
    for_each_axis_row<T>(a, axis_, [&](std::vector<C>& row, size_t r) {
      std::iota(order.begin(), order.end(), 0);
      // Descending with NaN first; the index tie-break makes the order total,
      // so partial_sort (not stable) still keeps equal values by position.
      auto before = [&](int32_t i, int32_t j) {
        if (nan_last_less(row[j], row[i])) return true;
        if (nan_last_less(row[i], row[j])) return false;
        return i < j;
      };
      std::partial_sort(order.begin(), order.begin() + k_, order.end(), before);
      T* vp = vdst + wv.rows[r];
      int32_t* ip = idst + wi.rows[r];
      for (int64_t i = 0; i < k_; ++i) {
        vp[i * wv.stride] = T(row[order[i]]);
        ip[i * wi.stride] = order[i];
      }
    });
  });
}

bool Sort::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Sort*>(&other);
  return o && o->axis_ == axis_;
}

bool ArgSort::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const ArgSort*>(&other);
  return o && o->axis_ == axis_;
}

bool TopK::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const TopK*>(&other);
  return o && o->k_ == k_ && o->axis_ == axis_;
}

}  // namespace mfx
