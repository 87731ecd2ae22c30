// scatter / scatter_add on the device, bit-identical to the CPU kernel of
// lib/cpu/indexing.cpp: a, indices and updates are row-major [outer, n, inner]
// and [outer, m, inner]; one thread per (outer, inner) line applies that
// line's updates in increasing j, which is the order the CPU applies them to
// the line's elements (writes of different lines never meet), so the last
// write wins (scatter) and sums accumulate in the CPU's order and precision
// (scatter_add; bool: logical or). The indices were range-checked on the
// device beforehand (lib/cuda/range_check.h); negative ones count from the end.

template <typename T>
__device__ __forceinline__ T combine(T a, T b) {
  return a + b;
}
template <>
__device__ __forceinline__ bool combine(bool a, bool b) {
  return a || b;
}

template <typename T>
__device__ void scatter_lines(T* out, const void* indices, int wide_index, const T* updates,
                              long long outer, long long n, long long m, long long inner,
                              int add) {
  const long long lines = outer * inner;
  for (long long line = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
       line < lines; line += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = line / inner, i = line % inner;
    for (long long j = 0; j < m; ++j) {
      const long long at = (r * m + j) * inner + i;
      long long p = wide_index ? static_cast<const long long*>(indices)[at]
                               : static_cast<const int*>(indices)[at];
      if (p < 0) p += n;
      T& target = out[(r * n + p) * inner + i];
      target = add ? combine(target, updates[at]) : updates[at];
    }
  }
}

#define SCATTER(NAME, T)                                                                      \
  extern "C" __global__ void NAME(T* out, const void* indices, int wide_index,                \
                                  const T* updates, long long outer, long long n, long long m, \
                                  long long inner, int add) {                                 \
    scatter_lines<T>(out, indices, wide_index, updates, outer, n, m, inner, add);             \
  }
SCATTER(scatter_f32, float)
SCATTER(scatter_f64, double)
SCATTER(scatter_i32, int)
SCATTER(scatter_i64, long long)
SCATTER(scatter_u8, unsigned char)
SCATTER(scatter_bool, bool)
