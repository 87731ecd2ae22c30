// Dtype-agnostic helpers for data-movement kernels (concatenate, pad, gather,
// sort): elements move as raw 1/2/4/8-byte words, so one instantiation per
// width serves every dtype (internal).
#pragma once

#include <cstring>
#include <stdexcept>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"

namespace mfx::cpu {

/// Calls f(TypeTag<W>{}) with W an unsigned integer as wide as one element of `t`.
template <typename F>
decltype(auto) dispatch_width(Dtype t, F&& f) {
  switch (size_of(t)) {
    case 1:
      return f(TypeTag<uint8_t>{});
    case 2:
      return f(TypeTag<uint16_t>{});
    case 4:
      return f(TypeTag<uint32_t>{});
    case 8:
      return f(TypeTag<uint64_t>{});
  }
  throw std::logic_error("[dispatch_width] unsupported element size");
}

/// Element offsets of every element of a strided view, in row-major order.
/// Kernels precompute these for the axes around a gathered/sorted axis, so
/// the inner loops are plain lookups.
inline std::vector<int64_t> view_offsets(const Shape& shape, const Strides& strides) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<int64_t> out;
  if (n == 0) return out;
  out.reserve(static_cast<size_t>(n));
  const int nd = static_cast<int>(shape.size());
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(off);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

/// The dims [begin, end) of a shape or strides vector.
inline std::vector<int64_t> dims(const std::vector<int64_t>& v, int begin, int end) {
  return std::vector<int64_t>(v.begin() + begin, v.begin() + end);
}

/// Start offsets of every 1-d row along `axis`, in row-major order of the other axes.
inline std::vector<int64_t> axis_row_offsets(const Shape& shape, const Strides& strides, int axis) {
  Shape s = shape;
  Strides st = strides;
  s.erase(s.begin() + axis);
  st.erase(st.begin() + axis);
  return view_offsets(s, st);
}

/// Copies every element of the evaluated view `src` into `dst` (same dtype),
/// laid out with `dst_strides` (in elements).
inline void copy_view(const array& src, void* dst, const Strides& dst_strides) {
  if (src.size() == 0) return;
  dispatch_width(src.dtype(), [&](auto tag) {
    using W = typename decltype(tag)::type;
    const W* s = static_cast<const W*>(src.raw_data());
    W* d = static_cast<W*>(dst);
    for_each_row<2>(src.shape(), {&src.strides(), &dst_strides},
                    [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                      const W* sp = s + off[0];
                      W* dp = d + off[1];
                      if (inc[0] == 1 && inc[1] == 1) {
                        std::memcpy(dp, sp, static_cast<size_t>(n) * sizeof(W));
                      } else {
                        for (int64_t i = 0; i < n; ++i) dp[i * inc[1]] = sp[i * inc[0]];
                      }
                    },
                    /*parallel=*/true);  // dst rows are disjoint
  });
}

/// Fills `n` elements at dst with copies of the element at `value` (both of dtype `t`).
inline void fill_elements(void* dst, const void* value, int64_t n, Dtype t) {
  dispatch_width(t, [&](auto tag) {
    using W = typename decltype(tag)::type;
    W v;
    std::memcpy(&v, value, sizeof(W));
    W* d = static_cast<W*>(dst);
    parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) d[i] = v;
    });
  });
}

}  // namespace mfx::cpu
