// CUDA kernels of ms_deform_attn (forward and the fused first-order
// backward), compiled by nvcc into a fatbin (sm_80, sm_90, compute_90 PTX)
// that lib/cuda/msda.cpp embeds and loads through the driver API. The
// numerics are those of the CPU kernels in lib/cpu/detection.cpp: pixel
// coordinates loc * size - 0.5, bilinear weights with zero padding, a sample
// skipped when no corner is inside (this also rejects NaN locations).
//
// One warp per (batch, query, head): lanes walk the head's channels, so the
// value rows ([.., H, D], channels innermost) are read with coalesced loads,
// and the per-sample reductions of the backward pass (attention-weight and
// location gradients) are warp shuffles instead of shared-memory trees.

#define MSDA_MAX_LEVELS 16
// Channels per lane kept in registers: D <= 32 * MSDA_MAX_CHUNKS.
#define MSDA_MAX_CHUNKS 8

struct MsdaLevels {
  int count;
  int height[MSDA_MAX_LEVELS];
  int width[MSDA_MAX_LEVELS];
  long long start[MSDA_MAX_LEVELS];  // first position of the level in value
};

struct MsdaSizes {
  long long batch, positions, queries;
  int heads, channels, levels, points;
};

// The four corners (y0,x0), (y0,x1), (y1,x0), (y1,x1) of pixel point (x, y):
// plane offsets (-1 outside) and bilinear weights with their x / y slopes.
template <typename T>
struct Corners {
  long long idx[4];
  T w[4], dx[4], dy[4];
};

template <typename T>
__device__ bool bilinear(T x, T y, int h, int w, Corners<T>& c) {
  if (!(x > T(-1) && y > T(-1) && x < T(w) && y < T(h))) return false;
  const T fx = floor(x), fy = floor(y);
  const long long x0 = static_cast<long long>(fx), y0 = static_cast<long long>(fy);
  const T ax = x - fx, ay = y - fy, bx = T(1) - ax, by = T(1) - ay;
  const T w4[4] = {by * bx, by * ax, ay * bx, ay * ax};
  const T dx4[4] = {-by, by, -ay, ay};
  const T dy4[4] = {-bx, -ax, bx, ax};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const long long yy = y0 + (k >> 1), xx = x0 + (k & 1);
    c.idx[k] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? yy * w + xx : -1;
    c.w[k] = w4[k];
    c.dx[k] = dx4[k];
    c.dy[k] = dy4[k];
  }
  return true;
}

template <typename T>
__device__ T warp_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return __shfl_sync(0xffffffffu, v, 0);
}

// out[b, q, h*D + d] = sum_{l,p} attn * bilinear(value level l, head h).
template <typename T>
__device__ void msda_forward(const T* __restrict__ value, const T* __restrict__ loc,
                             const T* __restrict__ attn, T* __restrict__ out, MsdaSizes s,
                             MsdaLevels lv) {
  const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= s.batch * s.queries * s.heads) return;
  const long long bq = warp / s.heads, b = bq / s.queries;
  const int h = static_cast<int>(warp % s.heads);
  const long long row = static_cast<long long>(s.heads) * s.channels;
  const T* vbase = value + b * s.positions * row + static_cast<long long>(h) * s.channels;
  T acc[MSDA_MAX_CHUNKS];
#pragma unroll
  for (int k = 0; k < MSDA_MAX_CHUNKS; ++k) acc[k] = T(0);
  Corners<T> c;
  for (int l = 0; l < s.levels; ++l) {
    const int hl = lv.height[l], wl = lv.width[l];
    const T* vlevel = vbase + lv.start[l] * row;
    for (int p = 0; p < s.points; ++p) {
      const long long i = ((warp * s.levels) + l) * s.points + p;
      const T x = loc[2 * i] * T(wl) - T(0.5), y = loc[2 * i + 1] * T(hl) - T(0.5);
      if (!bilinear(x, y, hl, wl, c)) continue;
      const T a = attn[i];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (c.idx[k] < 0) continue;
        const T* v = vlevel + c.idx[k] * row;
        const T coef = a * c.w[k];
#pragma unroll
        for (int chunk = 0; chunk < MSDA_MAX_CHUNKS; ++chunk) {
          const int d = lane + 32 * chunk;
          if (d < s.channels) acc[chunk] += coef * v[d];
        }
      }
    }
  }
  T* o = out + warp * s.channels;
#pragma unroll
  for (int chunk = 0; chunk < MSDA_MAX_CHUNKS; ++chunk) {
    const int d = lane + 32 * chunk;
    if (d < s.channels) o[d] = acc[chunk];
  }
}

// Gradients of the forward for cotangent g [B, Q, H*D]: grad_value (zeroed
// by the caller, accumulated atomically: positions are shared between
// queries), grad_loc [B,Q,H,L,P,2] and grad_attn [B,Q,H,L,P] (written once).
template <typename T>
__device__ void msda_backward(const T* __restrict__ value, const T* __restrict__ loc,
                              const T* __restrict__ attn, const T* __restrict__ grad_out,
                              T* __restrict__ grad_value, T* __restrict__ grad_loc,
                              T* __restrict__ grad_attn, MsdaSizes s, MsdaLevels lv) {
  const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= s.batch * s.queries * s.heads) return;
  const long long bq = warp / s.heads, b = bq / s.queries;
  const int h = static_cast<int>(warp % s.heads);
  const long long row = static_cast<long long>(s.heads) * s.channels;
  const long long head_offset = b * s.positions * row + static_cast<long long>(h) * s.channels;
  const T* vbase = value + head_offset;
  T* gvbase = grad_value + head_offset;
  T g[MSDA_MAX_CHUNKS];
#pragma unroll
  for (int chunk = 0; chunk < MSDA_MAX_CHUNKS; ++chunk) {
    const int d = lane + 32 * chunk;
    g[chunk] = d < s.channels ? grad_out[warp * s.channels + d] : T(0);
  }
  Corners<T> c;
  for (int l = 0; l < s.levels; ++l) {
    const int hl = lv.height[l], wl = lv.width[l];
    const long long level_offset = lv.start[l] * row;
    for (int p = 0; p < s.points; ++p) {
      const long long i = ((warp * s.levels) + l) * s.points + p;
      const T x = loc[2 * i] * T(wl) - T(0.5), y = loc[2 * i + 1] * T(hl) - T(0.5);
      T sw = 0, sx = 0, sy = 0;
      const T a = attn[i];
      if (bilinear(x, y, hl, wl, c)) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          if (c.idx[k] < 0) continue;
          const T* v = vbase + level_offset + c.idx[k] * row;
          T* gv = gvbase + level_offset + c.idx[k] * row;
          const T coef = a * c.w[k];
          T dot = 0;
#pragma unroll
          for (int chunk = 0; chunk < MSDA_MAX_CHUNKS; ++chunk) {
            const int d = lane + 32 * chunk;
            if (d < s.channels) {
              dot += g[chunk] * v[d];
              atomicAdd(gv + d, coef * g[chunk]);
            }
          }
          sw += c.w[k] * dot;
          sx += c.dx[k] * dot;
          sy += c.dy[k] * dot;
        }
      }
      // Every lane takes part in the shuffles, skipped samples included.
      sw = warp_sum(sw);
      sx = warp_sum(sx);
      sy = warp_sum(sy);
      if (lane == 0) {
        grad_attn[i] = sw;
        grad_loc[2 * i] = a * T(wl) * sx;
        grad_loc[2 * i + 1] = a * T(hl) * sy;
      }
    }
  }
}

extern "C" {

__global__ void msda_forward_f32(const float* value, const float* loc, const float* attn,
                                 float* out, MsdaSizes s, MsdaLevels lv) {
  msda_forward<float>(value, loc, attn, out, s, lv);
}

__global__ void msda_forward_f64(const double* value, const double* loc, const double* attn,
                                 double* out, MsdaSizes s, MsdaLevels lv) {
  msda_forward<double>(value, loc, attn, out, s, lv);
}

__global__ void msda_backward_f32(const float* value, const float* loc, const float* attn,
                                  const float* grad_out, float* grad_value, float* grad_loc,
                                  float* grad_attn, MsdaSizes s, MsdaLevels lv) {
  msda_backward<float>(value, loc, attn, grad_out, grad_value, grad_loc, grad_attn, s, lv);
}

__global__ void msda_backward_f64(const double* value, const double* loc, const double* attn,
                                  const double* grad_out, double* grad_value, double* grad_loc,
                                  double* grad_attn, MsdaSizes s, MsdaLevels lv) {
  msda_backward<double>(value, loc, attn, grad_out, grad_value, grad_loc, grad_attn, s, lv);
}

}  // extern "C"
