// Integer arithmetic that wraps around modulo 2^bits, as numpy's does and as
// the jitted kernels' does (LLVM add/sub/mul without no-wrap flags).
// Signed overflow is undefined behaviour in C++ (negative(INT32_MIN),
// INT64_MAX + 1), so signed operands are computed as unsigned of at least
// int's width (uint16 * uint16 would otherwise promote to a signed int and
// overflow) and converted back, which C++20 defines as modular.
// Floating-point operands are computed as they are.
#pragma once

#include <type_traits>

namespace mfx::cpu {

template <typename C>
using wrap_unsigned_t = std::make_unsigned_t<std::common_type_t<C, int>>;

template <typename C>
C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C> && !std::is_same_v<C, bool>) {
    using U = wrap_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return static_cast<C>(a + b);
  }
}

template <typename C>
C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C> && !std::is_same_v<C, bool>) {
    using U = wrap_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return static_cast<C>(a - b);
  }
}

template <typename C>
C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C> && !std::is_same_v<C, bool>) {
    using U = wrap_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return static_cast<C>(a * b);
  }
}

template <typename C>
C wrap_neg(C a) {
  if constexpr (std::is_integral_v<C>) {
    return wrap_sub(C(0), a);
  } else {
    return -a;  // not 0 - a, which gives +0 for +0
  }
}

}  // namespace mfx::cpu
