// Cumulative sums (the Scan primitive) on the device, bit-identical to the
// CPU kernel of lib/cpu/scan.cpp: every line along the scanned axis is
// summed sequentially by one thread in the CPU's accumulator type (double
// for float32/float64, wrapping unsigned 32/64-bit for integer results), so
// the order of additions, and with it every rounding, is the CPU's. Lines
// are (outer, inner) pairs of a row-major [outer, n, inner] buffer; adjacent
// threads take adjacent inner positions (coalesced when inner > 1).

template <typename T, typename O, typename A>
__device__ void scan_lines(const T* x, O* out, long long outer, long long n, long long inner,
                           int reverse, int inclusive) {
  const long long lines = outer * inner;
  for (long long line = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
       line < lines; line += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = line / inner, j = line % inner;
    const long long base = r * n * inner + j;
    A acc = A(0);
    for (long long i = 0; i < n; ++i) {
      const long long at = base + (reverse ? n - 1 - i : i) * inner;
      // Integers go through long long first (the CPU's load type), then the
      // unsigned accumulator wraps; floats widen to double directly.
      A v;
      if constexpr (A(0.5) != A(0)) {  // a floating accumulator
        v = static_cast<A>(x[at]);
      } else {
        v = static_cast<A>(static_cast<long long>(x[at]));
      }
      if (inclusive) {
        acc = A(acc + v);
        out[at] = static_cast<O>(acc);
      } else {
        out[at] = static_cast<O>(acc);
        acc = A(acc + v);
      }
    }
  }
}

#define SCAN_FLOAT(NAME, T)                                                                  \
  extern "C" __global__ void NAME(const T* x, T* out, long long outer, long long n,          \
                                  long long inner, int reverse, int inclusive) {             \
    scan_lines<T, T, double>(x, out, outer, n, inner, reverse, inclusive);                   \
  }
SCAN_FLOAT(scan_sum_f32, float)
SCAN_FLOAT(scan_sum_f64, double)

#define SCAN_INT(NAME, T, O, A)                                                              \
  extern "C" __global__ void NAME(const T* x, O* out, long long outer, long long n,          \
                                  long long inner, int reverse, int inclusive) {             \
    scan_lines<T, O, A>(x, out, outer, n, inner, reverse, inclusive);                     \
  }
SCAN_INT(scan_sum_bool_i32, unsigned char, int, unsigned)
SCAN_INT(scan_sum_u8_i32, unsigned char, int, unsigned)
SCAN_INT(scan_sum_i32_i32, int, int, unsigned)
SCAN_INT(scan_sum_i64_i32, long long, int, unsigned)
SCAN_INT(scan_sum_bool_i64, unsigned char, long long, unsigned long long)
SCAN_INT(scan_sum_u8_i64, unsigned char, long long, unsigned long long)
SCAN_INT(scan_sum_i32_i64, int, long long, unsigned long long)
SCAN_INT(scan_sum_i64_i64, long long, long long, unsigned long long)
