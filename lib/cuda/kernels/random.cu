// Counter-based random numbers on the device, bit-identical to the CPU
// kernels of lib/cpu/random.cpp: element i comes from the Threefry-2x32-20
// block at counter (i >> 32, i & 0xffffffff) under the key's two 32-bit
// words. The key is read from device memory (no host round trip, so CUDA
// graphs record these kernels); an int64 key word outside [0, 2^32) is
// recorded in the device's error word (lib/cuda/range_check.h) with
// size = -1 and reported at the next synchronisation, as the CPU throws.

// Must match struct RangeErrorWord of range_check.cpp byte for byte.
struct RangeErrorWord {
  unsigned long long flag;
  long long value;
  long long size;
  long long op;
};

struct Key {
  unsigned k0, k1;
};

__device__ __forceinline__ unsigned rotl(unsigned x, int r) {
  return (x << r) | (x >> (32 - r));
}

__device__ void threefry2x32(Key k, unsigned c0, unsigned c1, unsigned& y0, unsigned& y1) {
  const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  const unsigned ks[3] = {k.k0, k.k1, 0x1BD11BDAu ^ k.k0 ^ k.k1};
  unsigned x0 = c0 + ks[0];
  unsigned x1 = c1 + ks[1];
#pragma unroll
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl(x1, rot[r % 8]);
    x1 ^= x0;
    if (r % 4 == 3) {
      const unsigned s = static_cast<unsigned>(r / 4 + 1);
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + s;
    }
  }
  y0 = x0;
  y1 = x1;
}

// The key's words; `wide` keys are int64 (checked), others int32 bit patterns.
__device__ Key read_key(const void* key, int wide, long long op, RangeErrorWord* err) {
  Key k;
  if (wide) {
    const long long* p = static_cast<const long long*>(key);
    for (int i = 0; i < 2; ++i) {
      const long long v = p[i];
      if ((v < 0 || v > 0xFFFFFFFFll) && atomicCAS(&err->flag, 0ull, 1ull) == 0ull) {
        err->value = v;
        err->size = -1;  // marks a key error
        err->op = op;
      }
    }
    k.k0 = static_cast<unsigned>(p[0]);
    k.k1 = static_cast<unsigned>(p[1]);
  } else {
    const int* p = static_cast<const int*>(key);
    k.k0 = static_cast<unsigned>(p[0]);
    k.k1 = static_cast<unsigned>(p[1]);
  }
  return k;
}

__device__ __forceinline__ unsigned word32(Key k, unsigned long long i) {
  unsigned y0, y1;
  threefry2x32(k, static_cast<unsigned>(i >> 32), static_cast<unsigned>(i), y0, y1);
  return y0 ^ y1;
}

__device__ __forceinline__ unsigned long long word64(Key k, unsigned long long i) {
  unsigned y0, y1;
  threefry2x32(k, static_cast<unsigned>(i >> 32), static_cast<unsigned>(i), y0, y1);
  return (static_cast<unsigned long long>(y0) << 32) | y1;
}

#define GRID_LOOP(n)                                                                           \
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<long long>(gridDim.x) * blockDim.x)

// Keys [num, 2]: row i is the block at counter start + i.
extern "C" __global__ void random_split(const void* key, int wide, long long num,
                                        unsigned long long start, long long* out, long long op,
                                        RangeErrorWord* err) {
  const Key k = read_key(key, wide, op, err);
  GRID_LOOP(num) {
    const unsigned long long c = start + static_cast<unsigned long long>(i);
    unsigned y0, y1;
    threefry2x32(k, static_cast<unsigned>(c >> 32), static_cast<unsigned>(c), y0, y1);
    out[2 * i] = y0;
    out[2 * i + 1] = y1;
  }
}

extern "C" __global__ void random_bits(const void* key, int wide, long long n, long long* out,
                                       long long op, RangeErrorWord* err) {
  const Key k = read_key(key, wide, op, err);
  GRID_LOOP(n) { out[i] = word32(k, i); }
}

// Uniform in [low, low + range), clamped to [lo, hi] (the representable
// bounds the host computed), exactly as fill_uniform on the CPU.
extern "C" __global__ void random_uniform_f32(const void* key, int wide, long long n, double low,
                                              double range, double lo, double hi, float* out,
                                              long long op, RangeErrorWord* err) {
  const Key k = read_key(key, wide, op, err);
  GRID_LOOP(n) {
    const double u = static_cast<double>(word32(k, i) >> 9) * 0x1p-23;
    const float v = __double2float_rn(fma(u, range, low));
    const double vd = v;
    out[i] = vd < lo ? static_cast<float>(lo) : (vd > hi ? static_cast<float>(hi) : v);
  }
}

extern "C" __global__ void random_uniform_f64(const void* key, int wide, long long n, double low,
                                              double range, double lo, double hi, double* out,
                                              long long op, RangeErrorWord* err) {
  const Key k = read_key(key, wide, op, err);
  GRID_LOOP(n) {
    const double u = static_cast<double>(word64(k, i) >> 12) * 0x1p-52;
    const double v = fma(u, range, low);
    out[i] = v < lo ? lo : (v > hi ? hi : v);
  }
}

// Integers base + word64 % range (unsigned arithmetic wraps like the CPU's).
template <typename T>
__device__ void integers(Key k, long long n, unsigned long long base, unsigned long long range,
                         T* out) {
  GRID_LOOP(n) { out[i] = static_cast<T>(static_cast<long long>(base + word64(k, i) % range)); }
}

extern "C" __global__ void random_integer_u8(const void* key, int wide, long long n,
                                             unsigned long long base, unsigned long long range,
                                             unsigned char* out, long long op,
                                             RangeErrorWord* err) {
  integers(read_key(key, wide, op, err), n, base, range, out);
}

extern "C" __global__ void random_integer_i32(const void* key, int wide, long long n,
                                              unsigned long long base, unsigned long long range,
                                              int* out, long long op, RangeErrorWord* err) {
  integers(read_key(key, wide, op, err), n, base, range, out);
}

extern "C" __global__ void random_integer_i64(const void* key, int wide, long long n,
                                              unsigned long long base, unsigned long long range,
                                              long long* out, long long op, RangeErrorWord* err) {
  integers(read_key(key, wide, op, err), n, base, range, out);
}
