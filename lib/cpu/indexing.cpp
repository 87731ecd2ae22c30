// CPU kernels of the gather/scatter primitives. Indices are loaded once into
// a validated int64 list (so a bad index throws before any output is
// allocated; take_along_axis and scatter keep broadcast index dims
// unexpanded); the axes around the indexed axis are walked through
// precomputed element offsets, which handles any strided input.
#include <fmt/format.h>

#include <algorithm>

#include "cpu/copy.h"
#include "cpu/parallel.h"
#include "cpu/strided_copy.h"
#include "primitives/indexing.h"

namespace mfx {

namespace {

using cpu::dims;
using cpu::view_offsets;

// Wraps negative indices; throws naming the op, the index, the axis and its
// size when one is out of range.
void wrap_and_check(std::vector<int64_t>& ids, int64_t size, int axis, const char* op) {
  for (int64_t& i : ids) {
    int64_t k = i < 0 ? i + size : i;
    if (k < 0 || k >= size) {
      throw std::invalid_argument(
          fmt::format("[{}] index {} is out of range for axis {} with size {}", op, i, axis, size));
    }
    i = k;
  }
}

// Row-major int64 copy of `idx`, wrapped and checked.
std::vector<int64_t> load_indices(const array& idx, int64_t size, int axis, const char* op) {
  std::vector<int64_t> ids(static_cast<size_t>(idx.size()));
  if (ids.empty()) return ids;
  cpu::copy_to_row_major(idx, ids.data(), int64);
  wrap_and_check(ids, size, axis, op);
  return ids;
}

// The indices of a take_along_axis or scatter as int64, validated, without
// their broadcast: `ids` holds each distinct element once (row-major over
// idx's shape with its stride-0 dims as 1), and `strides` reads them over
// idx's full shape (0 along those dims). A [B, 1, M] index broadcast over
// N queries stays B M entries instead of B N M.
struct Indices {
  std::vector<int64_t> ids;
  Strides strides;
};
Indices load_indices_compact(const array& idx, int64_t size, int axis, const char* op) {
  const int nd = idx.ndim();
  Shape compact(nd);
  Strides read(nd, 0);
  int64_t n = 1;
  for (int d = nd - 1; d >= 0; --d) {
    const bool broadcast = idx.strides()[d] == 0 && idx.shape()[d] > 1;
    compact[d] = broadcast ? 1 : idx.shape()[d];
    read[d] = broadcast ? 0 : n;
    n *= compact[d];
  }
  Indices out{std::vector<int64_t>(static_cast<size_t>(n)), read};
  if (n == 0) return out;
  const std::vector<int64_t> at = view_offsets(compact, idx.strides());
  cpu::dispatch_all(idx.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(idx.raw_data());
    for (size_t e = 0; e < at.size(); ++e) out.ids[e] = static_cast<int64_t>(p[at[e]]);
  });
  wrap_and_check(out.ids, size, axis, op);
  return out;
}

// The offsets of a view's elements before and after `axis`, over `shape`
// (the iteration shape, which the view's own shape matches off `axis`).
struct AxisSplit {
  std::vector<int64_t> outer, inner;
  int64_t stride;
};
AxisSplit split_at(const Shape& shape, const Strides& strides, int axis) {
  const int nd = static_cast<int>(shape.size());
  return {view_offsets(dims(shape, 0, axis), dims(strides, 0, axis)),
          view_offsets(dims(shape, axis + 1, nd), dims(strides, axis + 1, nd)), strides[axis]};
}

bool is_iota(const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<int64_t>(i)) return false;
  return true;
}

}  // namespace

void Gather::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  array& o = out[0];
  std::vector<int64_t> ids = load_indices(in[1], a.shape()[axis_], axis_, "take");
  AxisSplit s = split_at(a.shape(), a.strides(), axis_);
  o.allocate();
  const bool contiguous_inner = is_iota(s.inner);
  const int64_t inner_n = static_cast<int64_t>(s.inner.size());
  cpu::dispatch_width(a.dtype(), [&](auto tag) {
    using W = typename decltype(tag)::type;
    const W* src = static_cast<const W*>(a.raw_data());
    W* dst = static_cast<W*>(o.raw_data());
    for (int64_t outer : s.outer) {
      for (int64_t j : ids) {
        const W* base = src + outer + j * s.stride;
        if (contiguous_inner) {
          std::memcpy(dst, base, static_cast<size_t>(inner_n) * sizeof(W));
        } else {
          for (int64_t t = 0; t < inner_n; ++t) dst[t] = base[s.inner[t]];
        }
        dst += inner_n;
      }
    }
  });
}

void GatherAxis::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  array& o = out[0];
  Indices ix = load_indices_compact(in[1], a.shape()[axis_], axis_, "take_along_axis");
  // a's view has o's shape off the axis, so o's shape drives the walk.
  AxisSplit s = split_at(o.shape(), a.strides(), axis_);
  AxisSplit is = split_at(o.shape(), ix.strides, axis_);
  const int64_t m = o.shape()[axis_], inner_n = static_cast<int64_t>(s.inner.size());
  const int64_t rows = static_cast<int64_t>(s.outer.size()), per_row = m * inner_n;
  o.allocate();
  cpu::dispatch_width(a.dtype(), [&](auto tag) {
    using W = typename decltype(tag)::type;
    const W* src = static_cast<const W*>(a.raw_data());
    W* dst = static_cast<W*>(o.raw_data());
    const int64_t* ids = ix.ids.data();
    // Outer rows write disjoint slices of the output: split over the pool.
    const int64_t grain =
        std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, per_row));
    cpu::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        W* d = dst + r * per_row;
        const W* row = src + s.outer[r];
        const int64_t* id = ids + is.outer[r];
        for (int64_t j = 0; j < m; ++j) {
          for (int64_t t = 0; t < inner_n; ++t) {
            d[j * inner_n + t] = row[id[j * is.stride + is.inner[t]] * s.stride + s.inner[t]];
          }
        }
      }
    });
  });
}

void Scatter::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& a = in[0];
  const array& idx = in[1];
  const array& upd = in[2];
  array& o = out[0];
  const char* op = reduce_ == ScatterReduce::Add ? "scatter_add" : "scatter";
  Indices ix = load_indices_compact(idx, a.shape()[axis_], axis_, op);
  cpu::copy_into(a, o);  // row-major copy of a that the updates land in
  AxisSplit u = split_at(upd.shape(), upd.strides(), axis_);
  AxisSplit d = split_at(upd.shape(), o.strides(), axis_);
  AxisSplit is = split_at(upd.shape(), ix.strides, axis_);
  const int64_t* ids = ix.ids.data();
  const int64_t m = upd.shape()[axis_];
  cpu::dispatch_all(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = cpu::compute_t<T>;
    const T* src = upd.data_ptr<T>();
    T* dst = o.data_ptr<T>();
    // Updates of different outer rows land in different slices of the output,
    // so rows split over the pool; within a row they apply in order (the same
    // sums, bit for bit, as one thread).
    const int64_t per_row = m * static_cast<int64_t>(u.inner.size());
    const int64_t rows = static_cast<int64_t>(u.outer.size());
    const int64_t grain =
        std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, per_row));
    cpu::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t j = 0; j < m; ++j) {
          for (size_t t = 0; t < u.inner.size(); ++t) {
            const T v = src[u.outer[r] + j * u.stride + u.inner[t]];
            const int64_t id = ids[is.outer[r] + j * is.stride + is.inner[t]];
            T& target = dst[d.outer[r] + id * d.stride + d.inner[t]];
            if (reduce_ == ScatterReduce::None) {
              target = v;
            } else if constexpr (std::is_same_v<T, bool>) {
              target = target || v;
            } else {
              target = T(C(target) + C(v));
            }
          }
        }
      }
    });
  });
}

bool Gather::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Gather*>(&other);
  return o && o->axis_ == axis_;
}

bool GatherAxis::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const GatherAxis*>(&other);
  return o && o->axis_ == axis_;
}

bool Scatter::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Scatter*>(&other);
  return o && o->axis_ == axis_ && o->reduce_ == reduce_;
}

}  // namespace mfx
