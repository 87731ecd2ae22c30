// CPU kernel of MaxPool2d: each image plane on one thread, its windows'
// positions inside the input scanned row by row.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "cpu/copy.h"
#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "primitives/pooling.h"

namespace mfx {

namespace {

// Larger, or the first NaN (a NaN maximum stays). Non-short-circuit
// operators and plain loops over columns: selects that vectorise, not
// branches that random activations mispredict (3.4 ms for a 3 x 3 pool of
// [2, 32, 128, 128] with branches).
template <typename C>
inline bool wins(C v, C m) {
  return bool((v > m) | ((v != v) & (m == m)));
}

// take ? a : b as bit masks for float (a `?:` on floats stays a branch
// under -ftrapping-math and blocks vectorisation), a plain select else.
template <typename C>
inline C pick(bool take, C a, C b) {
  if constexpr (std::is_same_v<C, float>) {
    const uint32_t mask = 0u - static_cast<uint32_t>(take);
    return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) |
                                (std::bit_cast<uint32_t>(b) & ~mask));
  } else {
    return take ? a : b;
  }
}
inline int32_t pick(bool take, int32_t a, int32_t b) {
  const int32_t mask = -static_cast<int32_t>(take);
  return (a & mask) | (b & ~mask);
}

// m[i], at[i] <- v[i], va[i] wherever v[i] wins.
template <typename C>
void merge(C* __restrict m, int32_t* __restrict at, const C* __restrict v,
           const int32_t* __restrict va, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const bool take = wins(v[i], m[i]);
    m[i] = pick(take, v[i], m[i]);
    at[i] = pick(take, va[i], at[i]);
  }
}

// One input row's maxima over the window columns of every output column:
// m[ow], at[ow] (at: the flat index base + column).
// SW > 0: the stride, known at compile time (vector loads for 1 and 2).
template <int SW, typename T, typename C>
void row_maxima(const T* __restrict line, int64_t w, int64_t wo, int64_t kw, int64_t sw_any,
                int64_t pw, int32_t base, C* __restrict m, int32_t* __restrict at) {
  const int64_t sw = SW > 0 ? SW : sw_any;
  // Columns whose window lies inside the row: [lo, hi).
  const int64_t lo = std::min<int64_t>(wo, (pw + sw - 1) / sw);
  const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(wo, (w + pw - kw) / sw + 1));
  auto scalar = [&](int64_t ow) {
    const int64_t w0 = std::max<int64_t>(0, ow * sw - pw);
    const int64_t w1 = std::min<int64_t>(w, ow * sw - pw + kw);
    C best = C(line[w0]);
    int64_t col = w0;
    for (int64_t c = w0 + 1; c < w1; ++c) {
      const bool take = wins(C(line[c]), best);
      best = pick(take, C(line[c]), best);
      col = take ? c : col;
    }
    m[ow] = best;
    at[ow] = static_cast<int32_t>(base + col);
  };
  for (int64_t ow = 0; ow < lo; ++ow) scalar(ow);
  for (int64_t ow = lo; ow < hi; ++ow) {
    m[ow] = C(line[ow * sw - pw]);
    at[ow] = static_cast<int32_t>(base + ow * sw - pw);
  }
  for (int64_t j = 1; j < kw; ++j) {
    for (int64_t ow = lo; ow < hi; ++ow) {
      const int64_t c = ow * sw - pw + j;
      const C v = C(line[c]);
      const bool take = wins(v, m[ow]);
      m[ow] = pick(take, v, m[ow]);
      at[ow] = pick(take, static_cast<int32_t>(base + c), at[ow]);
    }
  }
  for (int64_t ow = hi; ow < wo; ++ow) scalar(ow);
}

}  // namespace

void MaxPool2d::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array x = cpu::row_contiguous(in[0]);
  array& values = out[0];
  array& argmax = out[1];
  values.allocate();
  argmax.allocate();
  const int64_t planes = x.shape(0) * x.shape(1), h = x.shape(2), w = x.shape(3);
  const int64_t ho = values.shape(2), wo = values.shape(3);
  const auto [kh, kw] = kernel_;
  const auto [sh, sw] = stride_;
  const auto [ph, pw] = padding_;
  int32_t* idx = argmax.data_ptr<int32_t>();
  // Separable: each input row's maxima over the window columns, then the
  // maxima of those over the window rows. The first maximum of the
  // row-major window is the first row's first: ties stay with the earliest.
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = cpu::compute_t<T>;
    const T* src = x.data_ptr<T>();
    T* dst = values.data_ptr<T>();
    const int64_t grain =
        std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, h * w));
    cpu::parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
      // Per input row and output column, the row's maximum and its flat
      // index; then one output row's (C may be bool: no vector<C>).
      auto row_max = std::make_unique<C[]>(static_cast<size_t>(h * wo));
      auto row_arg = std::make_unique<int32_t[]>(static_cast<size_t>(h * wo));
      auto acc = std::make_unique<C[]>(static_cast<size_t>(wo));
      auto acc_arg = std::make_unique<int32_t[]>(static_cast<size_t>(wo));
      for (int64_t p = p0; p < p1; ++p) {
        const T* plane = src + p * h * w;
        for (int64_t r = 0; r < h; ++r) {
          const T* line = plane + r * w;
          const auto base = static_cast<int32_t>(r * w);
          C* rm = row_max.get() + r * wo;
          int32_t* ra = row_arg.get() + r * wo;
          if (sw == 1) {
            row_maxima<1>(line, w, wo, kw, sw, pw, base, rm, ra);
          } else if (sw == 2) {
            row_maxima<2>(line, w, wo, kw, sw, pw, base, rm, ra);
          } else {
            row_maxima<0>(line, w, wo, kw, sw, pw, base, rm, ra);
          }
        }
        T* vo = dst + p * ho * wo;
        int32_t* io = idx + p * ho * wo;
        for (int64_t oh = 0; oh < ho; ++oh) {
          const int64_t h0 = std::max<int64_t>(0, oh * sh - ph);
          const int64_t h1 = std::min<int64_t>(h, oh * sh - ph + kh);
          std::copy(row_max.get() + h0 * wo, row_max.get() + (h0 + 1) * wo, acc.get());
          std::copy(row_arg.get() + h0 * wo, row_arg.get() + (h0 + 1) * wo, acc_arg.get());
          for (int64_t r = h0 + 1; r < h1; ++r) {
            merge(acc.get(), acc_arg.get(), row_max.get() + r * wo, row_arg.get() + r * wo, wo);
          }
          for (int64_t ow = 0; ow < wo; ++ow) vo[oh * wo + ow] = T(acc[ow]);
          std::copy(acc_arg.get(), acc_arg.get() + wo, io + oh * wo);
        }
      }
    });
  });
}

}  // namespace mfx
