// Runtime dtype -> C++ type dispatch for CPU kernels (internal).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string_view>

#include "mfx/dtype.h"

namespace mfx::cpu {

template <typename T>
struct TypeTag {
  using type = T;
};

/// Calls f(TypeTag<T>{}) with T the C++ type of `t`.
template <typename F>
decltype(auto) dispatch_all(Dtype t, F&& f) {
  switch (t) {
    case Dtype::bool_: return f(TypeTag<bool>{});
    case Dtype::uint8: return f(TypeTag<uint8_t>{});
    case Dtype::int32: return f(TypeTag<int32_t>{});
    case Dtype::int64: return f(TypeTag<int64_t>{});
    case Dtype::float16: return f(TypeTag<float16_t>{});
    case Dtype::bfloat16: return f(TypeTag<bfloat16_t>{});
    case Dtype::float32: return f(TypeTag<float>{});
    case Dtype::float64: return f(TypeTag<double>{});
  }
  throw std::logic_error("[dispatch] unknown dtype");
}

/// Same, restricted to floating types; `op` names the caller in the error.
template <typename F>
decltype(auto) dispatch_float(Dtype t, std::string_view op, F&& f) {
  switch (t) {
    case Dtype::float16: return f(TypeTag<float16_t>{});
    case Dtype::bfloat16: return f(TypeTag<bfloat16_t>{});
    case Dtype::float32: return f(TypeTag<float>{});
    case Dtype::float64: return f(TypeTag<double>{});
    default:
      throw std::invalid_argument(
          fmt::format("[{}] dtype {} is not supported (floating types only)", op, dtype_name(t)));
  }
}

/// Same, restricted to int32/int64 (index arrays).
template <typename F>
decltype(auto) dispatch_index(Dtype t, std::string_view op, F&& f) {
  switch (t) {
    case Dtype::uint8: return f(TypeTag<uint8_t>{});
    case Dtype::int32: return f(TypeTag<int32_t>{});
    case Dtype::int64: return f(TypeTag<int64_t>{});
    default:
      throw std::invalid_argument(
          fmt::format("[{}] indices must be an integer array, got {}", op, dtype_name(t)));
  }
}

/// Arithmetic type for T: halves compute in float, everything else in itself.
template <typename T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<float16_t> {
  using type = float;
};
template <>
struct compute_type<bfloat16_t> {
  using type = float;
};
template <typename T>
using compute_t = typename compute_type<T>::type;

}  // namespace mfx::cpu
