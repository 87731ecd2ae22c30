#include "cpu/copy.h"

#include <cstring>
#include <limits>

#include "cpu/dispatch.h"
#include "cpu/strided.h"

namespace mfx::cpu {

// Float -> integer with the result the x86 truncating conversions give, and
// that jitted code gives (it converts through int32 for uint8, like this):
// in range, toward zero; NaN, +-inf and values outside int32 (int64 for
// int64) give the type's minimum. In C++ the out-of-range cast is undefined,
// so astype(-2.5, uint8) or astype(nan, int32) must not reach a static_cast.
template <typename I, typename F>
inline I float_to_int(F f) {
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::min());
  constexpr double hi = -lo;  // 2^31 or 2^63, exact in float and double
  const double v = static_cast<double>(f);
  return v >= lo && v < hi ? static_cast<I>(v) : std::numeric_limits<I>::min();
}

template <typename D, typename S>
inline D convert_one(S s) {
  using C = compute_t<S>;
  if constexpr (std::is_same_v<D, bool>) {
    return static_cast<C>(s) != C(0);
  } else if constexpr (std::is_same_v<D, float16_t> || std::is_same_v<D, bfloat16_t>) {
    return D(static_cast<float>(static_cast<C>(s)));
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<C>) {
    if constexpr (std::is_same_v<D, int64_t>) return float_to_int<int64_t>(static_cast<C>(s));
    // int32 directly; uint8 wraps the int32 value (modulo 256, defined).
    return static_cast<D>(float_to_int<int32_t>(static_cast<C>(s)));
  } else {
    return static_cast<D>(static_cast<C>(s));
  }
}

void convert_contiguous(const void* src, Dtype sdt, void* dst, Dtype ddt, int64_t n) {
  if (n == 0) return;  // src may be null (an empty vector's data), which memcpy must not get
  if (sdt == ddt) {
    std::memcpy(dst, src, static_cast<size_t>(n) * size_of(sdt));
    return;
  }
  dispatch_all(sdt, [&](auto st) {
    using S = typename decltype(st)::type;
    dispatch_all(ddt, [&](auto dt) {
      using D = typename decltype(dt)::type;
      const S* s = static_cast<const S*>(src);
      D* d = static_cast<D*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = convert_one<D>(s[i]);
    });
  });
}

void copy_to_row_major(const array& a, void* dst, Dtype ddt) {
  if (a.flags().row_contiguous) {
    convert_contiguous(a.raw_data(), a.dtype(), dst, ddt, a.size());
    return;
  }
  Strides out_strides = row_major_strides(a.shape());
  dispatch_all(a.dtype(), [&](auto st) {
    using S = typename decltype(st)::type;
    dispatch_all(ddt, [&](auto dt) {
      using D = typename decltype(dt)::type;
      const S* s = static_cast<const S*>(a.raw_data());
      D* d = static_cast<D*>(dst);
      for_each_row<2>(a.shape(), {&a.strides(), &out_strides},
                      [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                        const S* sp = s + off[0];
                        D* dp = d + off[1];
                        for (int64_t i = 0; i < n; ++i) dp[i * inc[1]] = convert_one<D>(sp[i * inc[0]]);
                      });
    });
  });
}

void copy_into(const array& in, array& out) {
  out.allocate();
  copy_to_row_major(in, out.raw_data(), out.dtype());
}

array row_contiguous(const array& a) {
  if (a.flags().row_contiguous) return a;
  array out(a.shape(), a.dtype(), nullptr, {});
  copy_into(a, out);
  return out;
}

}  // namespace mfx::cpu
