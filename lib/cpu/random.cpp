// CPU kernels of the counter-based random primitives: Threefry-2x32-20 blocks
// and the values derived from them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "cpu/simd_clones.h"
#include "primitives/random.h"

namespace mfx {

std::pair<uint32_t, uint32_t> threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1) {
  // Rotation constants R_32x2 and the key-schedule parity of Threefry.
  constexpr int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  const uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  uint32_t x0 = c0 + ks[0];
  uint32_t x1 = c1 + ks[1];
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = (x1 << rot[r % 8]) | (x1 >> (32 - rot[r % 8]));
    x1 ^= x0;
    if (r % 4 == 3) {  // key injection s after every fourth round
      const uint32_t s = static_cast<uint32_t>(r / 4 + 1);
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + s;
    }
  }
  return {x0, x1};
}

namespace {

// Elements per parallel chunk: a Threefry block costs ~20x an elementwise op.
constexpr int64_t kRandomGrain = 1 << 12;

struct Key {
  uint32_t k0, k1;
};

// The two words of an evaluated key (shape and dtype were checked by the op).
Key read_key(const array& key, const char* op) {
  uint32_t w[2];
  const int64_t stride = key.strides()[0];
  cpu::dispatch_index(key.dtype(), op, [&](auto t) {
    using T = typename decltype(t)::type;
    const T* p = key.data_ptr<T>();
    for (int i = 0; i < 2; ++i) {
      const T v = p[i * stride];
      if constexpr (std::is_same_v<T, int64_t>) {
        if (v < 0 || v > int64_t{0xFFFFFFFF}) {
          throw std::invalid_argument(fmt::format(
              "[{}] key word {} is {}, outside [0, 2^32); keys hold two 32-bit words", op, i, v));
        }
      }
      w[i] = static_cast<uint32_t>(v);  // int32: its 32-bit pattern
    }
  });
  return {w[0], w[1]};
}

// The block at counter i: (i >> 32, i & 0xffffffff).
inline std::pair<uint32_t, uint32_t> block(Key k, uint64_t i) {
  return threefry2x32(k.k0, k.k1, static_cast<uint32_t>(i >> 32), static_cast<uint32_t>(i));
}

// The 64-bit value of a block: word 0 high, word 1 low.
inline uint64_t join64(uint32_t y0, uint32_t y1) { return (static_cast<uint64_t>(y0) << 32) | y1; }

inline uint64_t word64(Key k, uint64_t i) {
  auto [y0, y1] = block(k, i);
  return join64(y0, y1);
}

// Threefry blocks of kLanes consecutive counters, computed side by side: the
// same 20 rounds as threefry2x32, written as loops over lanes so that the
// compiler keeps 8 (AVX2) or 16 (AVX-512) counters in one vector register.
// Only 32-bit adds, rotations and xors: every clone gives the same bits
// (MFX_SIMD_CLONES, simd_clones.h).
constexpr int kLanes = 64;

#define MFX_THREEFRY_ROUND(rot)                        \
  for (int j = 0; j < kLanes; ++j) {                   \
    x0[j] += x1[j];                                    \
    x1[j] = (x1[j] << (rot)) | (x1[j] >> (32 - (rot))); \
    x1[j] ^= x0[j];                                    \
  }
#define MFX_THREEFRY_INJECT(a, b, s)   \
  for (int j = 0; j < kLanes; ++j) {   \
    x0[j] += (a);                      \
    x1[j] += (b) + (s);                \
  }
#define MFX_THREEFRY_FOUR_ROUNDS(r0, r1, r2, r3) \
  MFX_THREEFRY_ROUND(r0)                         \
  MFX_THREEFRY_ROUND(r1)                         \
  MFX_THREEFRY_ROUND(r2)                         \
  MFX_THREEFRY_ROUND(r3)

// y0[j], y1[j] = the block at counter first + j, for j < kLanes.
MFX_SIMD_CLONES void threefry_lanes(Key k, uint64_t first, uint32_t* y0, uint32_t* y1) {
  const uint32_t ks0 = k.k0, ks1 = k.k1, ks2 = 0x1BD11BDAu ^ k.k0 ^ k.k1;
  uint32_t x0[kLanes], x1[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    const uint64_t c = first + static_cast<uint64_t>(j);
    x0[j] = static_cast<uint32_t>(c >> 32) + ks0;
    x1[j] = static_cast<uint32_t>(c) + ks1;
  }
  MFX_THREEFRY_FOUR_ROUNDS(13, 15, 26, 6)
  MFX_THREEFRY_INJECT(ks1, ks2, 1u)
  MFX_THREEFRY_FOUR_ROUNDS(17, 29, 16, 24)
  MFX_THREEFRY_INJECT(ks2, ks0, 2u)
  MFX_THREEFRY_FOUR_ROUNDS(13, 15, 26, 6)
  MFX_THREEFRY_INJECT(ks0, ks1, 3u)
  MFX_THREEFRY_FOUR_ROUNDS(17, 29, 16, 24)
  MFX_THREEFRY_INJECT(ks1, ks2, 4u)
  MFX_THREEFRY_FOUR_ROUNDS(13, 15, 26, 6)
  MFX_THREEFRY_INJECT(ks2, ks0, 5u)
  for (int j = 0; j < kLanes; ++j) y0[j] = x0[j], y1[j] = x1[j];
}

#undef MFX_THREEFRY_FOUR_ROUNDS
#undef MFX_THREEFRY_INJECT
#undef MFX_THREEFRY_ROUND

// Calls f(i, n, y0, y1) with the blocks of counters i .. i + n - 1 (n <= kLanes)
// for consecutive runs covering [begin, end).
template <typename F>
void for_each_run(Key k, int64_t begin, int64_t end, F&& f) {
  alignas(64) uint32_t y0[kLanes], y1[kLanes];
  for (int64_t i = begin; i < end; i += kLanes) {
    threefry_lanes(k, static_cast<uint64_t>(i), y0, y1);
    f(i, static_cast<int>(std::min<int64_t>(kLanes, end - i)), y0, y1);
  }
}

// Calls f(i, y0, y1) for every counter i in [begin, end).
template <typename F>
void for_each_block(Key k, int64_t begin, int64_t end, F&& f) {
  for_each_run(k, begin, end, [&](int64_t i, int n, const uint32_t* y0, const uint32_t* y1) {
    for (int j = 0; j < n; ++j) f(i + j, y0[j], y1[j]);
  });
}

// float32 uniforms of a run of blocks, as fill_uniform computes them, in a
// loop the compiler vectorises: fma rounds once in every clone, so all give
// the same bits.
MFX_SIMD_CLONES void uniform_f32_run(const uint32_t* y0, const uint32_t* y1, int n,
                                           double range, double low, float lo, float hi,
                                           float* o) {
  for (int j = 0; j < n; ++j) {
    // < 2^23, so the signed conversion (which every clone has) is exact.
    const double u = static_cast<double>(static_cast<int32_t>((y0[j] ^ y1[j]) >> 9)) * 0x1p-23;
    const float v = static_cast<float>(std::fma(u, range, low));
    o[j] = v < lo ? lo : (v > hi ? hi : v);
  }
}

// The neighbouring representable value of a floating T (halves step their bits).
template <typename T>
T step_toward(T v, bool up) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    return std::nextafter(
        v, up ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity());
  } else {
    uint16_t b = v.bits;
    const bool negative = (b & 0x8000u) != 0;
    if ((b & 0x7fffu) == 0) {  // ±0: the smallest subnormal of the wanted sign
      b = up ? 0x0001u : 0x8001u;
    } else if (negative == up) {
      --b;  // towards zero
    } else {
      ++b;  // away from zero
    }
    return T::from_bits(b);
  }
}

// The smallest T >= v and the largest T < v (v finite).
template <typename T>
T ceil_to(double v) {
  T t = T(v);
  return static_cast<double>(t) < v ? step_toward(t, true) : t;
}
template <typename T>
T below(double v) {
  T t = T(v);
  return static_cast<double>(t) >= v ? step_toward(t, false) : t;
}

template <typename T>
void fill_uniform(Key k, double low, double high, array& out) {
  const T lo = ceil_to<T>(low);
  const T hi = below<T>(high);
  const double lo_d = static_cast<double>(lo), hi_d = static_cast<double>(hi);
  if (!(lo_d <= hi_d)) {
    throw std::invalid_argument(
        fmt::format("[uniform] no {} value lies in [{}, {})", dtype_name(out.dtype()), low, high));
  }
  const double range = high - low;
  T* o = out.data_ptr<T>();
  if constexpr (std::is_same_v<T, float>) {
    cpu::parallel_for(out.size(), kRandomGrain, [&](int64_t begin, int64_t end) {
      for_each_run(k, begin, end, [&](int64_t i, int n, const uint32_t* y0, const uint32_t* y1) {
        uniform_f32_run(y0, y1, n, range, low, lo, hi, o + i);
      });
    });
    return;
  }
  cpu::parallel_for(out.size(), kRandomGrain, [&](int64_t begin, int64_t end) {
    for_each_block(k, begin, end, [&](int64_t i, uint32_t y0, uint32_t y1) {
      double u;
      if constexpr (std::is_same_v<T, double>) {
        u = static_cast<double>(join64(y0, y1) >> 12) * 0x1p-52;
      } else {
        u = static_cast<double>((y0 ^ y1) >> 9) * 0x1p-23;
      }
      // fma rounds once, so the value does not depend on the compiler's contraction.
      const double r = std::fma(u, range, low);
      T v;
      if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        v = static_cast<T>(r);
      } else {
        v = T(static_cast<float>(r));
      }
      const double vd = static_cast<double>(v);
      o[i] = vd < lo_d ? lo : (vd > hi_d ? hi : v);
    });
  });
}

}  // namespace

std::pair<double, double> uniform_bounds(Dtype dtype, double low, double high) {
  std::pair<double, double> b;
  cpu::dispatch_float(dtype, "uniform", [&](auto t) {
    using T = typename decltype(t)::type;
    b = {static_cast<double>(ceil_to<T>(low)), static_cast<double>(below<T>(high))};
  });
  if (!(b.first <= b.second)) {
    throw std::invalid_argument(
        fmt::format("[uniform] no {} value lies in [{}, {})", dtype_name(dtype), low, high));
  }
  return b;
}

void RandomSplit::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const Key k = read_key(in[0], "split");
  array& o = out[0];
  o.allocate();
  int64_t* p = o.data_ptr<int64_t>();
  for (int64_t i = 0; i < num_; ++i) {
    auto [y0, y1] = block(k, start_ + static_cast<uint64_t>(i));
    p[2 * i] = y0;
    p[2 * i + 1] = y1;
  }
}

void RandomBits::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const Key k = read_key(in[0], "bits");
  array& o = out[0];
  o.allocate();
  int64_t* p = o.data_ptr<int64_t>();
  cpu::parallel_for(o.size(), kRandomGrain, [&](int64_t begin, int64_t end) {
    for_each_block(k, begin, end, [&](int64_t i, uint32_t y0, uint32_t y1) { p[i] = y0 ^ y1; });
  });
}

void RandomUniform::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const Key k = read_key(in[0], "uniform");
  array& o = out[0];
  o.allocate();
  cpu::dispatch_float(o.dtype(), "uniform",
                      [&](auto t) { fill_uniform<typename decltype(t)::type>(k, low_, high_, o); });
}

void RandomInteger::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const Key k = read_key(in[0], "randint");
  array& o = out[0];
  o.allocate();
  // Unsigned arithmetic: the range and the sum wrap correctly for any int64 bounds.
  const uint64_t range = static_cast<uint64_t>(high_) - static_cast<uint64_t>(low_);
  const uint64_t base = static_cast<uint64_t>(low_);
  cpu::dispatch_index(o.dtype(), "randint", [&](auto t) {
    using T = typename decltype(t)::type;
    T* p = o.data_ptr<T>();
    cpu::parallel_for(o.size(), kRandomGrain, [&](int64_t begin, int64_t end) {
      for_each_block(k, begin, end, [&](int64_t i, uint32_t y0, uint32_t y1) {
        p[i] = static_cast<T>(static_cast<int64_t>(base + join64(y0, y1) % range));
      });
    });
  });
}

void RandomPermutation::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const Key k = read_key(in[0], "permutation");
  array& o = out[0];
  o.allocate();
  // Fisher–Yates: position i (from the end) swaps with a draw from block i.
  int32_t* p = o.data_ptr<int32_t>();
  std::iota(p, p + n_, 0);
  for (int64_t i = n_ - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(word64(k, i) % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
}

bool RandomSplit::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RandomSplit*>(&other);
  return o && o->num_ == num_ && o->start_ == start_;
}
bool RandomBits::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RandomBits*>(&other);
  return o && o->shape_ == shape_;
}
bool RandomUniform::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RandomUniform*>(&other);
  return o && o->shape_ == shape_ && o->low_ == low_ && o->high_ == high_ && o->dtype_ == dtype_;
}
bool RandomInteger::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RandomInteger*>(&other);
  return o && o->shape_ == shape_ && o->low_ == low_ && o->high_ == high_ && o->dtype_ == dtype_;
}
bool RandomPermutation::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RandomPermutation*>(&other);
  return o && o->n_ == n_;
}

}  // namespace mfx
