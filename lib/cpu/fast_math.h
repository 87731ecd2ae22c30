// Branch-free float32 exp, log, log1p, tanh and sigmoid (internal). libm's
// scalar calls block auto-vectorisation; these bodies use only arithmetic,
// bit casts and selects, so GCC vectorises loops over them at -O3 with plain
// SSE2. Accuracy over the whole float range (measured in
// tests/test_fast_math.cpp against double libm): exp and log <= 1 ulp, log1p,
// tanh and sigmoid <= 2 ulp.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace mfx::cpu::fast {

namespace detail {

inline float from_bits(uint32_t b) {
  return std::bit_cast<float>(b);
}
inline uint32_t to_bits(float x) {
  return std::bit_cast<uint32_t>(x);
}

// c ? a : b as bit masks: a `?:` lets GCC thread a constant operand into a
// separate path whose (possibly trapping) arithmetic it then refuses to
// if-convert, leaving the loop scalar.
inline float sel(bool c, float a, float b) {
  uint32_t m = 0u - static_cast<uint32_t>(c);
  return from_bits((to_bits(a) & m) | (to_bits(b) & ~m));
}

// 2^n for n in [-126, 127], built from the exponent field.
inline float pow2i(int32_t n) {
  return from_bits(static_cast<uint32_t>(n + 127) << 23);
}

}  // namespace detail

/// e^x: NaN -> NaN, +inf and x > ~88.72 -> inf, -inf and x < ~-103.97 -> 0,
/// subnormal results rounded once.
inline float exp(float x) {
  using detail::pow2i;
  // Beyond these bounds the result is already inf / 0; clamping keeps n small.
  // NaN becomes 0 here (converting a NaN n to int below is undefined
  // behaviour) and comes back at the end.
  float c = detail::sel(x < -104.f, -104.f, x);
  c = detail::sel(89.f < c, 89.f, c);
  c = detail::sel(x != x, 0.f, c);
  // n = round(c / ln2) by the 1.5 * 2^23 trick (no SSE4.1 round needed).
  const float magic = 12582912.f;
  float nf = (c * 1.44269504088896341f + magic) - magic;
  // Cody–Waite: ln2_hi has 9 significant bits, so nf * ln2_hi is exact.
  float r = c - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  // e^r = 1 + r + r^2 q(r), q of degree 4 fitted (relative least squares on
  // Chebyshev nodes of |r| <= ln2/2): approximation error < 0.07 ulp.
  float p = 1.375140739e-03f;
  p = p * r + 8.368915878e-03f;
  p = p * r + 4.166953266e-02f;
  p = p * r + 1.666651815e-01f;
  p = p * r + 4.999998808e-01f;
  p = 1.f + (r + r * r * p);
  // n lies in [-150, 128]; two factors keep both exponents representable, so
  // results near overflow and subnormal results are rounded once.
  int32_t n = static_cast<int32_t>(nf);
  int32_t n1 = n >> 1;
  float y = p * pow2i(n1) * pow2i(n - n1);
  return detail::sel(x != x, x, y);
}

/// Natural log: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN -> NaN;
/// subnormal inputs are exact-scaled into the normal range first.
inline float log(float x) {
  using detail::from_bits;
  using detail::to_bits;
  const bool sub = x < 1.17549435e-38f;           // also true for 0 and negatives: masked below
  float xs = detail::sel(sub, x * 8388608.f, x);  // * 2^23
  int32_t kadj = sub ? -23 : 0;
  // Split xs = 2^k * m with m in [sqrt(1/2), sqrt(2)): offsetting the bits by
  // (1 - sqrt(1/2)) moves the exponent boundary to sqrt(1/2).
  uint32_t ix = to_bits(xs) + (0x3f800000u - 0x3f3504f3u);
  int32_t k = static_cast<int32_t>(ix >> 23) - 127 + kadj;
  float m = from_bits((ix & 0x007fffffu) + 0x3f3504f3u);
  float f = m - 1.f;  // exact
  // log(1 + f) = f - f^2/2 + s (f^2/2 + R) with s = f / (2 + f) and
  // R = 2 atanh(s) / s - 2 as a series in s^2 (|s| <= 0.172, 5 terms).
  float s = f / (2.f + f);
  float z = s * s;
  float R = 1.81818182e-1f;
  R = R * z + 2.22222222e-1f;
  R = R * z + 2.85714286e-1f;
  R = R * z + 4.0e-1f;
  R = R * z + 6.66666667e-1f;
  R = R * z;
  float hfsq = 0.5f * f * f;
  float kf = static_cast<float>(k);
  // ln2 split: ln2_hi has 16 significant bits, so kf * ln2_hi is exact.
  float y = kf * 6.93138123e-1f - ((hfsq - (s * (hfsq + R) + kf * 9.05800061e-6f)) - f);
  const float inf = std::numeric_limits<float>::infinity();
  y = detail::sel(x == inf, inf, y);
  y = detail::sel(x == 0.f, -inf, y);
  y = detail::sel(x < 0.f, std::numeric_limits<float>::quiet_NaN(), y);
  return detail::sel(x != x, x, y);
}

/// log(1 + x): the log of u = 1 + x (rounded) plus (x - (u - 1)) / u, the
/// first-order correction for that rounding, so small |x| keep full
/// precision. log1p(±0) = ±0, log1p(-1) = -inf, x < -1 -> NaN, inf -> inf,
/// NaN -> NaN.
inline float log1p(float x) {
  const float inf = std::numeric_limits<float>::infinity();
  float u = 1.f + x;
  float y = log(u) + (x - (u - 1.f)) / u;
  y = detail::sel(u == inf, inf, y);
  y = detail::sel(u == 0.f, -inf, y);
  y = detail::sel(x < -1.f, std::numeric_limits<float>::quiet_NaN(), y);
  return detail::sel(x == 0.f || x != x, x, y);
}

/// tanh: odd, tanh(±large) = ±1, tanh(-0) = -0, NaN -> NaN.
inline float tanh(float x) {
  using detail::from_bits;
  using detail::to_bits;
  const uint32_t sign = to_bits(x) & 0x80000000u;
  float a = from_bits(to_bits(x) & 0x7fffffffu);
  // Small |x|: odd minimax-style polynomial, tanh(a) = a + a z P(z), z = a^2
  // (least-squares fit on [0, 0.625], approximation error < 0.03 ulp).
  float z = a * a;
  float p = 2.18273350e-3f;
  p = p * z - 8.22019298e-3f;
  p = p * z + 2.17176992e-2f;
  p = p * z - 5.39497957e-2f;
  p = p * z + 1.33332297e-1f;
  p = p * z - 3.33333314e-1f;
  float small = a + a * z * p;
  // Large |x|: 1 - 2 / (e^{2a} + 1); a is clamped so e^{2a} stays finite
  // (tanh(10) rounds to 1 in float; tanh(9) does not).
  float ac = detail::sel(10.f < a, 10.f, a);
  float large = 1.f - 2.f / (exp(2.f * ac) + 1.f);
  float y = detail::sel(a < 0.625f, small, large);  // NaN takes `large`, which is NaN
  return from_bits(to_bits(y) | sign);
}

/// Logistic sigmoid 1 / (1 + e^-x), computed from e^-|x| so neither sign
/// overflows: sigmoid(+large) = 1, sigmoid(-large) = 0, NaN -> NaN.
inline float sigmoid(float x) {
  using detail::from_bits;
  using detail::to_bits;
  float a = from_bits(to_bits(x) & 0x7fffffffu);
  float e = exp(-a);  // in (0, 1]
  // One division for both signs: e / (1 + e) below zero, 1 / (1 + e) above.
  return detail::sel(x < 0.f, e, 1.f) / (1.f + e);
}

}  // namespace mfx::cpu::fast
