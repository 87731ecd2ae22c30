// Iteration over strided (possibly broadcast or reversed) views (internal).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "cpu/parallel.h"
#include "mfx/array.h"

namespace mfx::cpu {

/// Shape and per-operand strides with size-1 dims dropped and dims merged
/// wherever every operand is contiguous across them.
template <size_t N>
struct Layout {
  Shape shape;
  std::array<Strides, N> strides;
};

template <size_t N>
Layout<N> collapse(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Layout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out.shape.empty();
    for (size_t k = 0; k < N && merge; ++k) {
      merge = out.strides[k].back() == (*strides[k])[d] * shape[d];
    }
    if (merge) {
      out.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) out.strides[k].back() = (*strides[k])[d];
    } else {
      out.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) out.strides[k].push_back((*strides[k])[d]);
    }
  }
  return out;
}

/// Calls row(offsets, n, inner_strides) for every innermost row of `shape`,
/// where offsets are element offsets of the row start per operand. With
/// `parallel`, large iteration spaces are split by rows across the thread
/// pool (row must then only write to memory owned by its row).
template <size_t N, typename F>
void for_each_row(const Shape& shape_in, const std::array<const Strides*, N>& strides_in, F&& row,
                  bool parallel = false) {
  Layout<N> L = collapse<N>(shape_in, strides_in);
  if (L.shape.empty()) {
    std::array<int64_t, N> zero{};
    row(zero, int64_t{1}, zero);
    return;
  }
  for (auto d : shape_in)
    if (d == 0) return;
  const int nd = static_cast<int>(L.shape.size());
  const int64_t inner = L.shape[nd - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = L.strides[k][nd - 1];
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= L.shape[d];

  auto run_rows = [&](int64_t r0, int64_t r1) {
    // Multi-index and offsets of row r0 (rows enumerate dims 0..nd-2).
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, N> off{};
    int64_t rem = r0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * L.strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(off, inner, inner_stride);
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < L.shape[d]) {
          for (size_t k = 0; k < N; ++k) off[k] += L.strides[k][d];
          break;
        }
        for (size_t k = 0; k < N; ++k) off[k] -= L.strides[k][d] * (L.shape[d] - 1);
        idx[d] = 0;
      }
    }
  };
  if (parallel && outer > 1 && outer * inner >= 2 * kElementwiseGrain) {
    parallel_for(outer, std::max<int64_t>(1, kElementwiseGrain / inner), run_rows);
  } else {
    run_rows(0, outer);
  }
}

/// Element offset of row-major linear index `i` in a strided view.
inline int64_t elem_to_loc(int64_t i, const Shape& shape, const Strides& strides) {
  int64_t loc = 0;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    loc += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return loc;
}

}  // namespace mfx::cpu
