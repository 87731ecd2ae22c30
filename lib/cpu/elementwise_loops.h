// Generic elementwise loops over strided inputs with fast paths for the
// contiguous, scalar-broadcast and row-broadcast cases (internal).
#pragma once

#include "cpu/dispatch.h"
#include "cpu/strided.h"

namespace mfx::cpu {

template <typename T, typename Out, typename F>
void unary_loop(const array& in, array& out, F f) {
  out.allocate();
  Out* o = out.data_ptr<Out>();
  const T* x = in.data_ptr<T>();
  if (in.flags().row_contiguous) {
    const int64_t n = out.size();
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    return;
  }
  for_each_row<2>(in.shape(), {&in.strides(), &out.strides()},
                  [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                    const T* xp = x + off[0];
                    Out* op = o + off[1];
                    for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i * inc[0]]);
                  });
}

template <typename T, typename Out, typename F>
void binary_loop(const array& a, const array& b, array& out, F f) {
  out.allocate();
  Out* o = out.data_ptr<Out>();
  const T* x = a.data_ptr<T>();
  const T* y = b.data_ptr<T>();
  if (a.flags().row_contiguous && b.flags().row_contiguous) {
    const int64_t n = out.size();
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    return;
  }
  for_each_row<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()},
                  [&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> inc) {
                    const T* xp = x + off[0];
                    const T* yp = y + off[1];
                    Out* op = o + off[2];
                    // out is row-major, so its inner stride is 1.
                    if (inc[0] == 1 && inc[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i], yp[i]);
                    } else if (inc[0] == 0 && inc[1] == 1) {
                      const T xv = *xp;
                      for (int64_t i = 0; i < n; ++i) op[i] = f(xv, yp[i]);
                    } else if (inc[0] == 1 && inc[1] == 0) {
                      const T yv = *yp;
                      for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i], yv);
                    } else {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i * inc[0]], yp[i * inc[1]]);
                    }
                  });
}

}  // namespace mfx::cpu
