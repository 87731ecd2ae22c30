// CPU kernel of Scan (cumulative sums). The input is made row-major, then
// each scan runs along its axis: sequentially for an innermost axis, or
// carrying a row of accumulators for an outer axis (vectorisable).
#include <algorithm>
#include <vector>

#include "cpu/copy.h"
#include "cpu/parallel.h"
#include "cpu/reduce_kernels.h"
#include "primitives/reduction.h"

namespace mfx {

namespace {

using cpu::compute_t;
using cpu::load_t;

// Accumulator of a sum scan: unsigned wrap for integers, float for halves,
// double for float32/float64.
template <typename T, typename O>
struct ScanAcc {
  using type =
      std::conditional_t<std::is_same_v<T, float> || std::is_same_v<T, double>, double, float>;
};
template <typename T>
struct ScanAcc<T, int32_t> {
  using type = uint32_t;
};
template <typename T>
struct ScanAcc<T, int64_t> {
  using type = uint64_t;
};
template <typename T, typename O>
using scan_acc_t = typename ScanAcc<T, O>::type;

template <typename T, typename O, typename F>
void scan(const array& x_in, array& o, int axis, bool reverse, bool inclusive, F combine,
          scan_acc_t<T, O> identity) {
  using A = scan_acc_t<T, O>;
  array x = cpu::row_contiguous(x_in);  // output and input then share one layout
  const T* xp = x.data_ptr<T>();
  O* op = o.data_ptr<O>();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = axis + 1; d < x.ndim(); ++d) inner *= x.shape()[d];
  const int64_t n = x.shape()[axis];
  auto load = [](T v) { return static_cast<A>(static_cast<load_t<T>>(v)); };
  // Position of the i-th step along the axis.
  auto pos = [&](int64_t i) { return reverse ? n - 1 - i : i; };

  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, n));
    cpu::parallel_for(outer, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * n;
        O* orow = op + r * n;
        A acc = identity;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t p = pos(i);
          if (inclusive) {
            acc = combine(acc, load(xr[p]));
            orow[p] = static_cast<O>(acc);
          } else {
            orow[p] = static_cast<O>(acc);
            acc = combine(acc, load(xr[p]));
          }
        }
      }
    });
    return;
  }
  // Scans along an outer axis carry a row of accumulators (vectorisable).
  const int64_t tile = std::min<int64_t>(inner, 4096);
  const int64_t tiles = (inner + tile - 1) / tile;
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / (n * tile));
  cpu::parallel_for(outer * tiles, grain, [&](int64_t t0, int64_t t1) {
    std::vector<A> acc(tile);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r = t / tiles, j0 = (t % tiles) * tile, m = std::min(tile, inner - j0);
      std::fill(acc.begin(), acc.begin() + m, identity);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t base = (r * n + pos(i)) * inner + j0;
        const T* __restrict xr = xp + base;
        O* __restrict orow = op + base;
        A* __restrict a = acc.data();
        if (inclusive) {
          for (int64_t j = 0; j < m; ++j) {
            a[j] = combine(a[j], load(xr[j]));
            orow[j] = static_cast<O>(a[j]);
          }
        } else {
          for (int64_t j = 0; j < m; ++j) {
            orow[j] = static_cast<O>(a[j]);
            a[j] = combine(a[j], load(xr[j]));
          }
        }
      }
    }
  });
}

template <typename T, typename O>
void scan_op(ScanOp op, const array& x, array& o, int axis, bool reverse, bool inclusive) {
  using A = scan_acc_t<T, O>;
  switch (op) {
    case ScanOp::Sum:
      return scan<T, O>(
          x, o, axis, reverse, inclusive, [](A a, A b) { return A(a + b); }, A(0));
  }
}

}  // namespace

void Scan::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  array& o = out[0];
  o.allocate();
  if (o.size() == 0) return;
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      if (o.dtype() != x.dtype()) {
        throw std::logic_error(fmt::format("[{}] unsupported dtypes {} -> {}", name(),
                                           dtype_name(x.dtype()), dtype_name(o.dtype())));
      }
      scan_op<T, T>(op_, x, o, axis_, reverse_, inclusive_);
    } else if (o.dtype() == int64) {
      scan_op<T, int64_t>(op_, x, o, axis_, reverse_, inclusive_);
    } else {
      scan_op<T, int32_t>(op_, x, o, axis_, reverse_, inclusive_);
    }
  });
}

}  // namespace mfx
