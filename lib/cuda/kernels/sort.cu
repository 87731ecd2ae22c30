// CUDA kernels of Sort, ArgSort and TopK along the last axis of a row-major
// [rows, n] buffer, compiled by nvcc into a fatbin (sm_80, sm_90, compute_90
// PTX) that lib/cuda/sort.cpp embeds and loads through the driver API.
//
// Every element becomes an unsigned "order key" whose integer order is the
// order of lib/cpu/sort.cpp: ascending with NaN last (all NaNs equal, -0 equal
// to +0), or, for TopK, descending with NaN first (the bitwise complement).
// Ties are broken by the element's index in its row, so the order is total
// and every sorting network yields exactly the stable order of the CPU
// kernels. Values are written by gathering the input at the sorted indices,
// so they are bit-exact copies (no key round trip).
//
// Rows of up to SORT_CHUNK elements: one block per row, a bitonic network on
// (key, index) pairs in shared memory, padded to a power of two with the
// largest key and indices past the row (after everything, NaN included).
// Longer rows: the same kernel sorts SORT_CHUNK-element runs into a scratch
// buffer, then merge passes double the run length; each element finds its
// output position by a binary search in the run it is merged with.

#define SORT_CHUNK 4096

struct SortRows {
  long long rows;  // rows of the input and outputs
  long long n;     // row length of the input
  long long k;     // leading sorted elements written per output row
  int descending;  // TopK's order: descending, NaN first
};

// Order keys per element type (T: storage, U: key).
struct KeyBool {
  using T = unsigned char;
  using U = unsigned;
  static __device__ U key(T x) { return x != 0; }
};
struct KeyU8 {
  using T = unsigned char;
  using U = unsigned;
  static __device__ U key(T x) { return x; }
};
struct KeyI32 {
  using T = int;
  using U = unsigned;
  static __device__ U key(T x) { return static_cast<unsigned>(x) ^ 0x80000000u; }
};
struct KeyI64 {
  using T = long long;
  using U = unsigned long long;
  static __device__ U key(T x) { return static_cast<unsigned long long>(x) ^ (1ull << 63); }
};

__device__ unsigned float_key(float x) {
  if (x != x) return 0xffffffffu;  // NaN: after +inf
  const unsigned u = x == 0.0f ? 0u : __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

struct KeyF32 {
  using T = float;
  using U = unsigned;
  static __device__ U key(T x) { return float_key(x); }
};
struct KeyF16 {
  using T = unsigned short;
  using U = unsigned;
  static __device__ U key(T x) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
    return float_key(f);
  }
};
struct KeyBF16 {
  using T = unsigned short;
  using U = unsigned;
  static __device__ U key(T x) {
    return float_key(__uint_as_float(static_cast<unsigned>(x) << 16));
  }
};
struct KeyF64 {
  using T = double;
  using U = unsigned long long;
  static __device__ U key(T x) {
    if (x != x) return ~0ull;
    const unsigned long long u =
        x == 0.0 ? 0ull : static_cast<unsigned long long>(__double_as_longlong(x));
    return (u >> 63) ? ~u : (u | (1ull << 63));
  }
};

// (key a, index ia) comes before (key b, index ib).
template <typename U>
__device__ __forceinline__ bool before(U a, int ia, U b, int ib) {
  return a < b || (a == b && ia < ib);
}

// Sorts run `blockIdx.x % runs` (SORT_CHUNK elements, fewer at the row's end)
// of row `blockIdx.x / runs`. With one run per row the first k pairs go to the
// outputs (values / indices may be null); otherwise the whole run goes to
// scratch (keys, indices) at its place in the row. Dynamic shared memory:
// `pad` keys then `pad` ints, pad = the power of two at or above min(n, chunk).
template <typename K>
__device__ void sort_block(const typename K::T* __restrict__ in, typename K::T* __restrict__ values,
                           int* __restrict__ indices, typename K::U* __restrict__ scratch_keys,
                           int* __restrict__ scratch_idx, SortRows s, int pad) {
  using U = typename K::U;
  extern __shared__ __align__(8) unsigned char shared[];
  U* keys = reinterpret_cast<U*>(shared);
  int* idx = reinterpret_cast<int*>(keys + pad);
  const long long runs = (s.n + SORT_CHUNK - 1) / SORT_CHUNK;
  const long long row = blockIdx.x / runs;
  const int start = static_cast<int>((blockIdx.x % runs) * SORT_CHUNK);
  const int len = static_cast<int>(min(static_cast<long long>(SORT_CHUNK), s.n - start));
  int p = 1;
  while (p < len) p <<= 1;
  const typename K::T* src = in + row * s.n;
  const U flip = s.descending ? ~U(0) : U(0);
  for (int i = threadIdx.x; i < p; i += blockDim.x) {
    keys[i] = i < len ? (K::key(src[start + i]) ^ flip) : ~U(0);
    idx[i] = start + i;  // padding: indices past the run, after every element
  }
  __syncthreads();
  const int half = p >> 1;
  for (int size = 2; size <= p; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int t = threadIdx.x; t < half; t += blockDim.x) {
        const int i = 2 * t - (t & (stride - 1));
        const int j = i + stride;
        const bool up = (i & size) == 0;
        const U ki = keys[i], kj = keys[j];
        const int ii = idx[i], ij = idx[j];
        if (up ? before(kj, ij, ki, ii) : before(ki, ii, kj, ij)) {
          keys[i] = kj;
          keys[j] = ki;
          idx[i] = ij;
          idx[j] = ii;
        }
      }
      __syncthreads();
    }
  }
  if (runs == 1) {
    for (int i = threadIdx.x; i < s.k; i += blockDim.x) {
      if (values) values[row * s.k + i] = src[idx[i]];
      if (indices) indices[row * s.k + i] = idx[i];
    }
  } else {
    const long long base = row * s.n + start;
    for (int i = threadIdx.x; i < len; i += blockDim.x) {
      scratch_keys[base + i] = keys[i];
      scratch_idx[base + i] = idx[i];
    }
  }
}

// One merge pass over scratch: runs of `width` sorted pairs are merged in
// twos (one thread per element). The last pass (`to_outputs`) writes the first k
// positions of each row to the outputs instead of the next scratch buffer.
template <typename K>
__device__ void sort_merge(const typename K::T* __restrict__ in,
                           const typename K::U* __restrict__ keys_in,
                           const int* __restrict__ idx_in, typename K::U* __restrict__ keys_out,
                           int* __restrict__ idx_out, typename K::T* __restrict__ values,
                           int* __restrict__ indices, SortRows s, long long width, int to_outputs) {
  using U = typename K::U;
  const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= s.rows * s.n) return;
  const long long row = t / s.n, pos = t % s.n;
  const long long first = pos - pos % (2 * width);
  const long long mid = min(first + width, s.n), last = min(first + 2 * width, s.n);
  const U* rk = keys_in + row * s.n;
  const int* ri = idx_in + row * s.n;
  const U key = rk[pos];
  const int id = ri[pos];
  // Elements of the other run that come before this one (the order is total).
  long long lo = pos < mid ? mid : first, hi = pos < mid ? last : mid;
  const long long other = lo;
  while (lo < hi) {
    const long long m = (lo + hi) >> 1;
    if (before(rk[m], ri[m], key, id)) {
      lo = m + 1;
    } else {
      hi = m;
    }
  }
  const long long out = first + (pos < mid ? pos - first : pos - mid) + (lo - other);
  if (!to_outputs) {
    keys_out[row * s.n + out] = key;
    idx_out[row * s.n + out] = id;
  } else if (out < s.k) {
    if (values) values[row * s.k + out] = in[row * s.n + id];
    if (indices) indices[row * s.k + out] = id;
  }
}

#define SORT_KERNELS(suffix, K)                                                                    \
  extern "C" __global__ void sort_block_##suffix(const K::T* in, K::T* values, int* indices,       \
                                                 K::U* scratch_keys, int* scratch_idx, SortRows s, \
                                                 int pad) {                                        \
    sort_block<K>(in, values, indices, scratch_keys, scratch_idx, s, pad);                         \
  }                                                                                                \
  extern "C" __global__ void sort_merge_##suffix(                                                  \
      const K::T* in, const K::U* keys_in, const int* idx_in, K::U* keys_out, int* idx_out,        \
      K::T* values, int* indices, SortRows s, long long width, int to_outputs) {                   \
    sort_merge<K>(in, keys_in, idx_in, keys_out, idx_out, values, indices, s, width, to_outputs);  \
  }

SORT_KERNELS(bool, KeyBool)
SORT_KERNELS(u8, KeyU8)
SORT_KERNELS(i32, KeyI32)
SORT_KERNELS(i64, KeyI64)
SORT_KERNELS(f16, KeyF16)
SORT_KERNELS(bf16, KeyBF16)
SORT_KERNELS(f32, KeyF32)
SORT_KERNELS(f64, KeyF64)
