// Element types and numpy-style type promotion.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "mfx/half.h"

namespace mfx {

/// The element types an array can hold, ordered by promotion rank.
enum class Dtype : uint8_t { bool_, uint8, int32, int64, float16, bfloat16, float32, float64 };

inline constexpr Dtype bool_ = Dtype::bool_;
inline constexpr Dtype uint8 = Dtype::uint8;
inline constexpr Dtype int32 = Dtype::int32;
inline constexpr Dtype int64 = Dtype::int64;
inline constexpr Dtype float16 = Dtype::float16;
inline constexpr Dtype bfloat16 = Dtype::bfloat16;
inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;

/// Bytes per element.
size_t size_of(Dtype t);
/// Lower-case name: "float32", "bool", ...
std::string_view dtype_name(Dtype t);
/// Parses a name produced by dtype_name; throws std::invalid_argument otherwise.
Dtype dtype_from_name(std::string_view name);

inline bool is_floating(Dtype t) { return t >= Dtype::float16; }
inline bool is_integral(Dtype t) { return t == Dtype::uint8 || t == Dtype::int32 || t == Dtype::int64; }
inline bool is_signed(Dtype t) { return t != Dtype::bool_ && t != Dtype::uint8; }

/// Result type of a binary op on arrays of types a and b (numpy rules; any
/// float beats any integer; float16 with bfloat16 gives float32).
Dtype promote_types(Dtype a, Dtype b);

/// The float type that an op such as exp or mean produces for an input type:
/// floats stay, integers and bool become float32.
inline Dtype to_floating(Dtype t) { return is_floating(t) ? t : Dtype::float32; }

template <typename T>
struct dtype_of_t;
template <> struct dtype_of_t<bool> { static constexpr Dtype value = Dtype::bool_; };
template <> struct dtype_of_t<uint8_t> { static constexpr Dtype value = Dtype::uint8; };
template <> struct dtype_of_t<int32_t> { static constexpr Dtype value = Dtype::int32; };
template <> struct dtype_of_t<int64_t> { static constexpr Dtype value = Dtype::int64; };
template <> struct dtype_of_t<float16_t> { static constexpr Dtype value = Dtype::float16; };
template <> struct dtype_of_t<bfloat16_t> { static constexpr Dtype value = Dtype::bfloat16; };
template <> struct dtype_of_t<float> { static constexpr Dtype value = Dtype::float32; };
template <> struct dtype_of_t<double> { static constexpr Dtype value = Dtype::float64; };

/// The Dtype of a C++ element type.
template <typename T>
inline constexpr Dtype dtype_of = dtype_of_t<std::remove_cv_t<T>>::value;

/// C++ types accepted as array elements.
template <typename T>
concept Element = requires { dtype_of_t<std::remove_cv_t<T>>::value; };

/// C++ scalars accepted where an array is expected: exactly the element types.
template <typename T>
concept Scalar = Element<T>;

}  // namespace mfx
