// Neural-network ops on NCHW tensors.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "mfx/array.h"

namespace mfx {

using Pair = std::pair<int64_t, int64_t>;

/// 2-d convolution (cross-correlation like PyTorch). x [N,C,H,W], w [O,C/groups,kH,kW].
/// Integer inputs are rejected; dtypes promote like add.
array conv2d(const array& x, const array& w, Pair stride = {1, 1}, Pair padding = {0, 0},
             Pair dilation = {1, 1}, int groups = 1);
/// Transposed convolution (PyTorch conv_transpose2d). w [C, O/groups, kH, kW].
array conv_transpose2d(const array& x, const array& w, Pair stride = {1, 1},
                       Pair padding = {0, 0}, Pair output_padding = {0, 0},
                       Pair dilation = {1, 1}, int groups = 1);
/// Max pooling over [N,C,H,W]; padding is -inf. stride defaults to kernel.
array max_pool2d(const array& x, Pair kernel, std::optional<Pair> stride = std::nullopt,
                 Pair padding = {0, 0});
/// Average pooling; `count_include_pad` as in PyTorch (default true).
array avg_pool2d(const array& x, Pair kernel, std::optional<Pair> stride = std::nullopt,
                 Pair padding = {0, 0}, bool count_include_pad = true);

enum class InterpolateMode { nearest, bilinear };
/// Resizes the last two axes of [N,C,H,W] to `size` (PyTorch F.interpolate:
/// nearest uses floor(dst * in/out); bilinear honours align_corners).
array interpolate(const array& x, Pair size, InterpolateMode mode = InterpolateMode::nearest,
                  bool align_corners = false);

/// Normalises over the last axis; weight/bias of shape [D] are optional.
array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps = 1e-5);
/// GroupNorm over [N,C,...] with `groups` groups; weight/bias of shape [C].
array group_norm(const array& x, int groups, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps = 1e-5);
/// Inference-form batch norm over axis 1 of [N,C,...] with running statistics.
array batch_norm(const array& x, const array& running_mean, const array& running_var,
                 const std::optional<array>& weight, const std::optional<array>& bias,
                 double eps = 1e-5);
/// Zeroes each element with probability p and scales the rest by 1/(1-p)
/// when `training`; identity otherwise. `key` from mfx::random::key.
array dropout(const array& x, double p, const array& key, bool training = true);

}  // namespace mfx
