// Launchers of the ms_deform_attn CUDA kernels (lib/cuda/kernels/
// ms_deform_attn.cu, embedded as a fatbin when nvcc was found at configure
// time). Raw device pointers in, work queued on `stream` of the current
// context; the caller owns synchronisation (internal).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// Sizes of one ms_deform_attn call: value [batch, positions, heads,
/// channels], locations [batch, queries, heads, levels, points, 2],
/// attention weights [batch, queries, heads, levels, points]; `shapes` holds
/// (H_l, W_l) per level with sum H_l W_l = positions.
struct MsdaProblem {
  int64_t batch = 0, positions = 0, queries = 0;
  int heads = 0, channels = 0, points = 0;
  std::vector<std::pair<int64_t, int64_t>> shapes;
};

/// The most levels and channels per head the kernels take.
inline constexpr int kMsdaMaxLevels = 16;
inline constexpr int kMsdaMaxChannels = 256;

/// True when the build embedded the kernels (nvcc was available).
bool msda_kernels_built();

/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> msda_fatbin();

/// Throws std::invalid_argument "[ms_deform_attn] ..." naming the sizes when
/// the problem is outside what the kernels take (levels, channels, a level
/// plane that does not fit in int, positions that differ from the shapes),
/// or for a dtype other than float32 / float64.
void msda_check_problem(const MsdaProblem& p, Dtype dtype);

/// out [batch, queries, heads * channels] = ms_deform_attn(value, loc, attn).
void msda_forward(const MsdaProblem& p, Dtype dtype, CUdeviceptr value, CUdeviceptr loc,
                  CUdeviceptr attn, CUdeviceptr out, CUstream stream);

/// First-order gradients for cotangent grad_out [batch, queries, heads *
/// channels]: grad_value (same layout as value; must be zero on entry, it is
/// accumulated atomically), grad_loc and grad_attn (overwritten).
void msda_backward(const MsdaProblem& p, Dtype dtype, CUdeviceptr value, CUdeviceptr loc,
                   CUdeviceptr attn, CUdeviceptr grad_out, CUdeviceptr grad_value,
                   CUdeviceptr grad_loc, CUdeviceptr grad_attn, CUstream stream);

}  // namespace mfx::cuda
