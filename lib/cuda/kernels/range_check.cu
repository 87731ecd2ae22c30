// Index range checks of jitted GPU programs, on the device: instead of
// copying index arrays to the host before a gather or a scatter-add (a
// synchronisation per checked kernel, which a CUDA graph cannot record),
// each index is compared with [-size, size) here. In-range indices are
// copied to `safe` unchanged, out-of-range ones as 0 so that the consuming
// kernel never addresses memory outside its operand, and the first
// violation is recorded in the device's error word, which the host reads at
// its next synchronisation and reports as an error (lib/cuda/range_check.h).

// Must match struct RangeErrorWord of range_check.cpp byte for byte.
struct RangeErrorWord {
  unsigned long long flag;  // 0: no error; set once by the first violation
  long long value;          // the offending index
  long long size;           // the axis size it was checked against
  long long op;             // the op's id in the host's table of names
};

template <typename T>
__device__ void check_range(const T* idx, T* safe, long long n, long long size, long long op,
                            RangeErrorWord* err) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const long long v = static_cast<long long>(idx[i]);
    const bool ok = v >= -size && v < size;
    if (!ok && atomicCAS(&err->flag, 0ull, 1ull) == 0ull) {
      err->value = v;
      err->size = size;
      err->op = op;
    }
    safe[i] = ok ? idx[i] : T(0);
  }
}

extern "C" __global__ void range_check_i32(const int* idx, int* safe, long long n, long long size,
                                           long long op, RangeErrorWord* err) {
  check_range(idx, safe, n, size, op, err);
}

extern "C" __global__ void range_check_i64(const long long* idx, long long* safe, long long n,
                                           long long size, long long op, RangeErrorWord* err) {
  check_range(idx, safe, n, size, op, err);
}
