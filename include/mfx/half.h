// 16-bit floating point storage types. Arithmetic happens in float: kernels
// load a half, compute in float and round back (round-to-nearest-even).
#pragma once

#include <cstdint>
#include <cstring>

namespace mfx {

namespace detail {
inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_half_bits(float f);
float half_bits_to_float(uint16_t h);
}  // namespace detail

/// IEEE 754 binary16.
struct float16_t {
  uint16_t bits = 0;
  float16_t() = default;
  float16_t(float f) : bits(detail::float_to_half_bits(f)) {}
  float16_t(double d) : float16_t(static_cast<float>(d)) {}
  float16_t(int i) : float16_t(static_cast<float>(i)) {}
  float16_t(int64_t i) : float16_t(static_cast<float>(i)) {}
  float16_t(uint8_t i) : float16_t(static_cast<float>(i)) {}
  float16_t(bool b) : float16_t(b ? 1.0f : 0.0f) {}
  operator float() const { return detail::half_bits_to_float(bits); }
  static float16_t from_bits(uint16_t b) {
    float16_t h;
    h.bits = b;
    return h;
  }
};

/// bfloat16: the upper half of a float32.
struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  bfloat16_t(float f) {
    uint32_t u = detail::float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it a quiet NaN
      bits = static_cast<uint16_t>((u >> 16) | 0x40);
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  bfloat16_t(double d) : bfloat16_t(static_cast<float>(d)) {}
  bfloat16_t(int i) : bfloat16_t(static_cast<float>(i)) {}
  bfloat16_t(int64_t i) : bfloat16_t(static_cast<float>(i)) {}
  bfloat16_t(uint8_t i) : bfloat16_t(static_cast<float>(i)) {}
  bfloat16_t(bool b) : bfloat16_t(b ? 1.0f : 0.0f) {}
  operator float() const { return detail::bits_float(static_cast<uint32_t>(bits) << 16); }
  static bfloat16_t from_bits(uint16_t b) {
    bfloat16_t h;
    h.bits = b;
    return h;
  }
};

}  // namespace mfx
