#include "mfx/dtype.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mfx {

size_t size_of(Dtype t) {
  switch (t) {
    case Dtype::bool_:
    case Dtype::uint8: return 1;
    case Dtype::float16:
    case Dtype::bfloat16: return 2;
    case Dtype::int32:
    case Dtype::float32: return 4;
    case Dtype::int64:
    case Dtype::float64: return 8;
  }
  return 0;
}

static constexpr std::string_view kNames[] = {"bool",    "uint8",    "int32",   "int64",
                                              "float16", "bfloat16", "float32", "float64"};

std::string_view dtype_name(Dtype t) { return kNames[static_cast<int>(t)]; }

Dtype dtype_from_name(std::string_view name) {
  for (int i = 0; i < 8; ++i)
    if (kNames[i] == name) return static_cast<Dtype>(i);
  throw std::invalid_argument(fmt::format("[dtype] unknown dtype name '{}'", name));
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  bool fa = is_floating(a), fb = is_floating(b);
  if (fa && fb) {
    if ((a == Dtype::float16 && b == Dtype::bfloat16) ||
        (a == Dtype::bfloat16 && b == Dtype::float16))
      return Dtype::float32;
    return std::max(a, b);
  }
  if (fa) return a;  // any float beats any integer (as in MLX and JAX)
  if (fb) return b;
  return std::max(a, b);
}

namespace detail {

// IEEE binary16 <-> binary32, round to nearest even, with subnormals.
uint16_t float_to_half_bits(float f) {
  uint32_t x = float_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (mag >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (mag < 0x38800000u) {
    // Subnormal half (or zero): add a magic number so the FPU rounds for us.
    float v = bits_float(mag) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(v) - 0x3f000000u));
  }
  uint32_t odd = (mag >> 13) & 1u;
  mag += 0xc8000fffu + odd;  // rebias exponent (-112 << 23) and round
  return static_cast<uint16_t>(sign | (mag >> 13));
}

float half_bits_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    // Subnormal or zero: value = man * 2^-24.
    float v = static_cast<float>(man) * 5.9604644775390625e-08f;
    return bits_float(sign | float_bits(v));
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (man << 13));
  return bits_float(sign | ((exp + 112) << 23) | (man << 13));
}

}  // namespace detail
}  // namespace mfx
