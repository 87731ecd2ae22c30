#include "cpu/copy.h"

#include <cstring>

#include "cpu/dispatch.h"
#include "cpu/strided.h"

namespace mfx::cpu {

template <typename D, typename S>
inline D convert_one(S s) {
  if constexpr (std::is_same_v<D, bool>) {
    return static_cast<compute_t<S>>(s) != compute_t<S>(0);
  } else if constexpr (std::is_same_v<D, float16_t> || std::is_same_v<D, bfloat16_t>) {
    return D(static_cast<float>(static_cast<compute_t<S>>(s)));
  } else {
    return static_cast<D>(static_cast<compute_t<S>>(s));
  }
}

void convert_contiguous(const void* src, Dtype sdt, void* dst, Dtype ddt, int64_t n) {
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
