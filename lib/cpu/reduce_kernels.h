// Reduction policies and their inner loops (internal): what one reduction
// computes per element type, and the vectorised loops over contiguous runs
// and over rows of a column tile. Used by the Reduce, ArgReduce and Scan
// kernels.
#pragma once

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cpu/dispatch.h"

namespace mfx::cpu {

// ------------------------------------------------------------------ policies
// A policy describes one reduction of element type T:
//   Lane    partial result of an inner loop (several run independently);
//   Acc     what lanes fold into (double for float sums);
//   Out     output element type;
//   kBlock  elements one lane set takes before folding into Acc (0: all).

// The type an element is read as: its compute type, bytes for bool.
template <typename T>
using load_t = std::conditional_t<std::is_same_v<T, bool>, uint8_t, compute_t<T>>;

// Policies whose contiguous runs have an explicit SIMD loop.
enum class SimdKind { None, Sum, Max, Min };
template <typename T>
constexpr bool is_simd_float = std::is_same_v<T, float> || std::is_same_v<T, double>;
template <typename T>
constexpr bool is_simd_extreme = is_simd_float<T> || std::is_same_v<T, int32_t> ||
                                 std::is_same_v<T, int64_t> || std::is_same_v<T, uint8_t>;

// Integer sums and products wrap like two's complement (unsigned arithmetic
// avoids signed-overflow UB and gives the same bits).
template <typename T, typename O, bool IsProd>
struct IntArith {
  using In = T;
  using Lane = std::make_unsigned_t<O>;
  using Acc = Lane;
  using Out = O;
  static constexpr int64_t kBlock = 0;
  // Same-width integer sums add the input's bits as unsigned lanes.
  static constexpr SimdKind kSimd =
      !IsProd && std::is_same_v<T, O> ? SimdKind::Sum : SimdKind::None;
  static Lane lane_init() { return IsProd ? 1 : 0; }
  static Lane load(T x) { return static_cast<Lane>(x); }
  static Lane combine(Lane a, Lane b) { return IsProd ? static_cast<Lane>(a * b) : a + b; }
  static Acc acc_init() { return lane_init(); }
  static Acc fold(Acc a, Lane l) { return combine(a, l); }
  static Acc merge(Acc a, Acc b) { return combine(a, b); }
  static Out finish(Acc a) { return static_cast<Out>(a); }
};

// Floating sums: L is float for float32/half inputs (blocked into a double)
// and double for float64 and for integers summed into a float output.
template <typename T, typename O>
struct FloatSum {
  using In = T;
  using Lane =
      std::conditional_t<std::is_same_v<T, double> || !std::is_floating_point_v<compute_t<T>>,
                         double, float>;
  using Acc = double;
  using Out = O;
  static constexpr int64_t kBlock = std::is_same_v<Lane, float> ? 2048 : 0;
  static constexpr SimdKind kSimd =
      is_simd_float<T> && std::is_same_v<T, Lane> ? SimdKind::Sum : SimdKind::None;
  static Lane lane_init() { return 0; }
  static Lane load(T x) { return static_cast<Lane>(static_cast<load_t<T>>(x)); }
  static Lane combine(Lane a, Lane b) { return a + b; }
  static Acc acc_init() { return 0; }
  static Acc fold(Acc a, Lane l) { return a + l; }
  static Acc merge(Acc a, Acc b) { return a + b; }
  static Out finish(Acc a) { return Out(a); }
};

// Floating products multiply in double: no intermediate overflow for float32.
template <typename T>
struct FloatProd {
  using In = T;
  using Lane = double;
  using Acc = double;
  using Out = T;
  static constexpr int64_t kBlock = 0;
  static constexpr SimdKind kSimd = SimdKind::None;
  static Lane lane_init() { return 1; }
  static Lane load(T x) { return static_cast<double>(static_cast<compute_t<T>>(x)); }
  static Lane combine(Lane a, Lane b) { return a * b; }
  static Acc acc_init() { return 1; }
  static Acc fold(Acc a, Lane l) { return a * l; }
  static Acc merge(Acc a, Acc b) { return a * b; }
  static Out finish(Acc a) { return Out(a); }
};

// Max/Min; a NaN operand wins so that NaN propagates like numpy.
template <typename T, bool IsMax>
struct Extreme {
  using In = T;
  using Lane = load_t<T>;
  using Acc = Lane;
  using Out = T;
  static constexpr int64_t kBlock = 0;
  static constexpr SimdKind kSimd =
      is_simd_extreme<T> ? (IsMax ? SimdKind::Max : SimdKind::Min) : SimdKind::None;
  static Lane lane_init() {
    if constexpr (std::numeric_limits<Lane>::has_infinity) {
      return IsMax ? -std::numeric_limits<Lane>::infinity() : std::numeric_limits<Lane>::infinity();
    } else {
      return IsMax ? std::numeric_limits<Lane>::lowest() : std::numeric_limits<Lane>::max();
    }
  }
  static Lane load(T x) { return static_cast<Lane>(x); }
  static Lane combine(Lane a, Lane x) {
    if constexpr (std::is_floating_point_v<Lane>) {
      return ((IsMax ? x > a : x < a) || x != x) ? x : a;
    } else {
      return (IsMax ? x > a : x < a) ? x : a;
    }
  }
  static Acc acc_init() { return lane_init(); }
  static Acc fold(Acc a, Lane l) { return combine(a, l); }
  static Acc merge(Acc a, Acc b) { return combine(a, b); }
  static Out finish(Acc a) { return Out(a); }
};

// All/Any on x != 0 (NaN counts as true, like numpy).
template <typename T, bool IsAll>
struct Logical {
  using In = T;
  using Lane = uint8_t;
  using Acc = uint8_t;
  using Out = bool;
  static constexpr int64_t kBlock = 0;
  static constexpr SimdKind kSimd = SimdKind::None;
  static Lane lane_init() { return IsAll ? 1 : 0; }
  static Lane load(T x) { return static_cast<load_t<T>>(x) != load_t<T>(0) ? 1 : 0; }
  static Lane combine(Lane a, Lane b) { return IsAll ? (a & b) : (a | b); }
  static Acc acc_init() { return lane_init(); }
  static Acc fold(Acc a, Lane l) { return combine(a, l); }
  static Acc merge(Acc a, Acc b) { return combine(a, b); }
  static Out finish(Acc a) { return a != 0; }
};

// ------------------------------------------------------------- inner loops

// Independent partial results per run in the generic loop.
constexpr int kLanes = 16;
// Rows of a column tile a float lane takes before folding into its double.
constexpr int64_t kColumnBlock = 128;

// Reduces n elements at p with stride s (Unit: s == 1).
template <class P, bool Unit>
typename P::Acc reduce_run_impl(const typename P::In* p, int64_t n, int64_t s) {
  using Lane = typename P::Lane;
  typename P::Acc acc = P::acc_init();
  if (n < 2 * kLanes) {
    Lane l = P::lane_init();
    for (int64_t i = 0; i < n; ++i) l = P::combine(l, P::load(p[Unit ? i : i * s]));
    return P::fold(acc, l);
  }
  const int64_t block = P::kBlock > 0 ? P::kBlock : n;
  for (int64_t b = 0; b < n; b += block) {
    const int64_t end = std::min(n, b + block);
    Lane l[kLanes];
    for (int k = 0; k < kLanes; ++k) l[k] = P::lane_init();
    int64_t i = b;
    for (; i + kLanes <= end; i += kLanes) {
      // Kept rolled so that GCC vectorises across the lanes.
#pragma GCC unroll 1
      for (int k = 0; k < kLanes; ++k) {
        l[k] = P::combine(l[k], P::load(p[Unit ? i + k : (i + k) * s]));
      }
    }
    for (; i < end; ++i) l[0] = P::combine(l[0], P::load(p[Unit ? i : i * s]));
    for (int w = kLanes / 2; w > 0; w /= 2) {
      for (int k = 0; k < w; ++k) l[k] = P::combine(l[k], l[k + w]);
    }
    acc = P::fold(acc, l[0]);
  }
  return acc;
}

// 16-byte vectors through the GCC/Clang vector extensions (SSE2 / NEON
// width): the auto-vectoriser does not keep the lanes of a float max (or a
// reduction with NaN tracking) in registers by itself.
template <typename E>
struct Simd {
  typedef E V __attribute__((vector_size(16)));
  static constexpr int kWidth = 16 / sizeof(E);
  // Loads kWidth elements of the same width as E (int32 bits as uint32).
  static V load(const void* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
  static V splat(E x) { return V{} + x; }
};

// Sum of n contiguous values in vector lanes of P::Lane; floats fold each
// block of P::kBlock values into the (double) accumulator.
template <class P>
typename P::Acc simd_sum(const typename P::In* p, int64_t n) {
  using L = typename P::Lane;
  using S = Simd<L>;
  using V = typename S::V;
  constexpr int W = S::kWidth;
  const int64_t block = P::kBlock > 0 ? P::kBlock : n;
  typename P::Acc acc = P::acc_init();
  for (int64_t b = 0; b < n; b += block) {
    const int64_t end = std::min(n, b + block);
    V a0{}, a1{}, a2{}, a3{};
    int64_t i = b;
    for (; i + 4 * W <= end; i += 4 * W) {
      a0 += S::load(p + i);
      a1 += S::load(p + i + W);
      a2 += S::load(p + i + 2 * W);
      a3 += S::load(p + i + 3 * W);
    }
    V a = (a0 + a1) + (a2 + a3);
    L t = 0;
    for (int k = 0; k < W; ++k) t += a[k];
    for (; i < end; ++i) t += P::load(p[i]);
    acc = P::fold(acc, t);
  }
  return acc;
}

// Max/min of n contiguous values. Floats: the compare-select drops NaN, so
// NaNs are watched separately, through sums of pairs (a NaN operand makes the
// sum NaN; +inf + -inf does too, which only costs a scalar recheck). Integer
// masks would be cheaper to read but compile poorly for 64-bit lanes on SSE2.
template <typename E, bool IsMax>
E simd_extreme(const E* p, int64_t n) {
  using S = Simd<E>;
  using V = typename S::V;
  constexpr int W = S::kWidth;
  constexpr bool kFloat = std::is_floating_point_v<E>;
  const E init = Extreme<E, IsMax>::lane_init();
  auto pick = [](V a, V x) {
    if constexpr (IsMax) {
      return x > a ? x : a;
    } else {
      return x < a ? x : a;
    }
  };
  V a0 = S::splat(init), a1 = a0, a2 = a0, a3 = a0;
  V u0{}, u1{};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    V x0 = S::load(p + i), x1 = S::load(p + i + W);
    V x2 = S::load(p + i + 2 * W), x3 = S::load(p + i + 3 * W);
    a0 = pick(a0, x0);
    a1 = pick(a1, x1);
    a2 = pick(a2, x2);
    a3 = pick(a3, x3);
    if constexpr (kFloat) {
      V y0 = x0 + x1, y1 = x2 + x3;
      u0 = y0 != y0 ? y0 : u0;
      u1 = y1 != y1 ? y1 : u1;
    }
  }
  const int64_t vec_end = i;
  V a = pick(pick(a0, a1), pick(a2, a3));
  E m = init;
  bool alarm = false;
  for (int k = 0; k < W; ++k) {
    m = (IsMax ? a[k] > m : a[k] < m) ? a[k] : m;
    if constexpr (kFloat) alarm |= (u0[k] != u0[k]) || (u1[k] != u1[k]);
  }
  bool nan = false;
  for (; i < n; ++i) {
    if constexpr (kFloat) nan |= p[i] != p[i];
    m = (IsMax ? p[i] > m : p[i] < m) ? p[i] : m;
  }
  if constexpr (kFloat) {
    for (int64_t j = 0; alarm && !nan && j < vec_end; ++j) nan = p[j] != p[j];
    if (nan) return std::numeric_limits<E>::quiet_NaN();
  }
  return m;
}

template <class P>
typename P::Acc reduce_run(const typename P::In* p, int64_t n, int64_t s) {
  if (s != 1) return reduce_run_impl<P, false>(p, n, s);
  if constexpr (P::kSimd == SimdKind::Sum) {
    return simd_sum<P>(p, n);
  } else if constexpr (P::kSimd == SimdKind::Max) {
    return simd_extreme<typename P::In, true>(p, n);
  } else if constexpr (P::kSimd == SimdKind::Min) {
    return simd_extreme<typename P::In, false>(p, n);
  } else {
    return reduce_run_impl<P, true>(p, n, 1);
  }
}

// Column loops of max/min over float/double: a plain compare-select per
// element plus a NaN flag; a tile that met a NaN is redone with the NaN-aware
// combine (the plain select would drop it).
template <class P>
constexpr bool kFastExtreme = P::kSimd == SimdKind::Max || P::kSimd == SimdKind::Min;

template <class P>
inline typename P::Lane pick(typename P::Lane a, typename P::Lane x) {
  if constexpr (P::kSimd == SimdKind::Max) {
    return x > a ? x : a;
  } else {
    return x < a ? x : a;
  }
}

// lanes[j] = combine(lanes[j], combine of four contiguous rows at j): four
// rows per pass over the lanes quarter the loads and stores of the lanes.
// Returns whether a NaN was met (Fast only).
template <class P, bool Fast>
bool accumulate_rows4(typename P::Lane* __restrict lanes, const typename P::In* __restrict p0,
                      const typename P::In* __restrict p1, const typename P::In* __restrict p2,
                      const typename P::In* __restrict p3, int64_t m) {
  if constexpr (Fast) {
    int nan = 0;
    for (int64_t j = 0; j < m; ++j) {
      auto x0 = p0[j], x1 = p1[j], x2 = p2[j], x3 = p3[j];
      lanes[j] = pick<P>(lanes[j], pick<P>(pick<P>(x0, x1), pick<P>(x2, x3)));
      nan |= (x0 != x0) | (x1 != x1) | (x2 != x2) | (x3 != x3);
    }
    return nan != 0;
  } else {
    for (int64_t j = 0; j < m; ++j) {
      auto a = P::combine(P::load(p0[j]), P::load(p1[j]));
      auto b = P::combine(P::load(p2[j]), P::load(p3[j]));
      lanes[j] = P::combine(lanes[j], P::combine(a, b));
    }
    return false;
  }
}

// lanes[j] = combine(lanes[j], x[j * s]) for j < m.
template <class P, bool Fast>
bool accumulate_row(typename P::Lane* __restrict lanes, const typename P::In* __restrict p,
                    int64_t m, int64_t s) {
  if constexpr (Fast) {
    int nan = 0;
    for (int64_t j = 0; j < m; ++j) {
      auto x = p[j * s];
      lanes[j] = pick<P>(lanes[j], x);
      nan |= x != x;
    }
    return nan != 0;
  } else if (s == 1) {
    for (int64_t j = 0; j < m; ++j) lanes[j] = P::combine(lanes[j], P::load(p[j]));
  } else {
    for (int64_t j = 0; j < m; ++j) lanes[j] = P::combine(lanes[j], P::load(p[j * s]));
  }
  return false;
}

}  // namespace mfx::cpu
