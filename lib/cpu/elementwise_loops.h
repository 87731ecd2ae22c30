// Generic elementwise loops over strided inputs with fast paths for the
// contiguous, scalar-broadcast and row-broadcast cases (internal).
#pragma once

#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"

namespace mfx::cpu {

template <typename T, typename Out, typename F>
void unary_loop(const array& in, array& out, F f) {
  out.allocate();
  Out* o = out.data_ptr<Out>();
  const T* x = in.data_ptr<T>();
  if (in.flags().row_contiguous) {
    parallel_for(out.size(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) o[i] = f(x[i]);
    });
    return;
  }
  for_each_row<2>(in.shape(), {&in.strides(), &out.strides()},
                  [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                    const T* xp = x + off[0];
                    Out* op = o + off[1];
                    for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i * inc[0]]);
                  },
                  /*parallel=*/true);
}

template <typename T, typename Out, typename F>
void binary_loop(const array& a, const array& b, array& out, F f) {
  out.allocate();
  Out* o = out.data_ptr<Out>();
  const T* x = a.data_ptr<T>();
  const T* y = b.data_ptr<T>();
  // One-element buffers are broadcast scalars (x * 2, x + bias of size 1).
  const bool a_scalar = a.data_size() == 1, b_scalar = b.data_size() == 1;
  const bool a_flat = a.flags().row_contiguous, b_flat = b.flags().row_contiguous;
  if ((a_flat || a_scalar) && (b_flat || b_scalar)) {
    parallel_for(out.size(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      if (a_flat && b_flat) {
        for (int64_t i = lo; i < hi; ++i) o[i] = f(x[i], y[i]);
      } else if (b_flat) {
        const T xv = *x;
        for (int64_t i = lo; i < hi; ++i) o[i] = f(xv, y[i]);
      } else if (a_flat) {
        const T yv = *y;
        for (int64_t i = lo; i < hi; ++i) o[i] = f(x[i], yv);
      } else {
        const Out v = f(*x, *y);
        for (int64_t i = lo; i < hi; ++i) o[i] = v;
      }
    });
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
                  },
                  /*parallel=*/true);
}

}  // namespace mfx::cpu
