// Sampling ops of deformable detection models: multi-scale deformable
// attention (Deformable DETR's MSDeformAttn core) and bilinear grid sampling.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "mfx/array.h"

namespace mfx {

/// Multi-scale deformable attention core.
///
/// value [B, S, H, Dh] holds H heads of Dh channels for S positions: the L
/// levels flattened row-major and concatenated (S = sum_l H_l W_l), level l
/// of size `spatial_shapes[l]` = (H_l, W_l). sampling_locations
/// [B, Q, H, L, P, 2] are (x, y) points normalised to [0, 1] per level,
/// attention_weights [B, Q, H, L, P] their weights. Returns [B, Q, H * Dh]:
///   out[b, q, h, :] = sum_{l,p} w[b,q,h,l,p] * bilinear(value_l[b, :, :, h, :],
///                                                        x W_l - 0.5, y H_l - 0.5)
/// with zero padding outside the level, i.e. grid_sample with
/// align_corners=false and zero padding at grid 2 * loc - 1 (non-finite
/// locations contribute zero, as in the reference kernel). All three inputs
/// must share one floating dtype (half types compute in float32).
/// Differentiable in all three inputs (to any order: the bilinear weights'
/// derivatives are primitives too) and batchable by vmap.
array ms_deform_attn(const array& value,
                     const std::vector<std::pair<int64_t, int64_t>>& spatial_shapes,
                     const array& sampling_locations, const array& attention_weights);

/// How grid_sample treats points outside the input.
enum class GridPadding {
  zeros,   ///< out-of-range pixels read as 0
  border,  ///< coordinates are clamped to the edge pixels
};

/// Bilinear sampling of input [N, C, H, W] at grid [N, Ho, Wo, 2] of (x, y)
/// points normalised to [-1, 1] -> [N, C, Ho, Wo] (PyTorch grid_sample, mode
/// "bilinear"). With align_corners, -1 and 1 are the centres of the corner
/// pixels; without, they are the outer edges of the corner pixels. NaN
/// coordinates sample 0 with either padding. Input and
/// grid must share one floating dtype. Differentiable in input and grid to any
/// order (with border padding the grid gradient is 0 where a coordinate is
/// clamped) and batchable by vmap.
array grid_sample(const array& input, const array& grid, GridPadding padding = GridPadding::zeros,
                  bool align_corners = false);

}  // namespace mfx
