// Neural-network ops on NCHW tensors, with PyTorch semantics. Pairs are
// (height, width). Errors are std::invalid_argument naming the op and the
// offending shapes or parameters.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "mfx/array.h"

namespace mfx {

using Pair = std::pair<int64_t, int64_t>;

/// 2-d convolution (cross-correlation like PyTorch's conv2d).
/// x [N,C,H,W], w [O,C/groups,kH,kW] -> [N,O,H_out,W_out] with
/// H_out = floor((H + 2 pad - dil (kH - 1) - 1) / stride) + 1 (same for W).
/// Input channel group g sees weight rows g*O/groups ... (g+1)*O/groups - 1.
/// Floating inputs only (integer and bool inputs are rejected); mixed dtypes
/// promote like add; halves compute in float32. CPU: im2col + sgemm/dgemm.
/// Throws for stride/dilation < 1, padding < 0, channels not matching groups
/// and kernels larger than the padded input.
array conv2d(const array& x, const array& w, Pair stride = {1, 1}, Pair padding = {0, 0},
             Pair dilation = {1, 1}, int groups = 1);
/// The gradient of conv2d(x, w, stride, padding, dilation, groups) with
/// respect to x, for the cotangent `ct` of its output and x of spatial size
/// `input_size` (PyTorch's torch.nn.grad.conv2d_input): ct [N,O,H_out,W_out],
/// w [O,C/groups,kH,kW] -> [N,C,H,W]. Dtypes promote like conv2d. CPU: the
/// transposed weights times ct into patch columns, added back into the image
/// (col2im). Throws unless ct has the shape conv2d of such an x would give.
array conv2d_input_grad(const array& ct, const array& w, Pair input_size, Pair stride = {1, 1},
                        Pair padding = {0, 0}, Pair dilation = {1, 1}, int groups = 1);
/// The gradient of conv2d(x, w, stride, padding, dilation, groups) with
/// respect to w, for the cotangent `ct` of its output (PyTorch's
/// torch.nn.grad.conv2d_weight): x [N,C,H,W], ct [N,O,H_out,W_out] ->
/// [O,C/groups,kH,kW] with `kernel` = (kH, kW), in x's dtype (ct is cast).
/// CPU: im2col of each image times ct, summed over images in the gemm.
/// Throws unless ct has the shape conv2d would give.
array conv2d_weight_grad(const array& x, const array& ct, Pair kernel, Pair stride = {1, 1},
                         Pair padding = {0, 0}, Pair dilation = {1, 1}, int groups = 1);
/// Transposed convolution (PyTorch conv_transpose2d, the gradient of conv2d
/// with respect to its input). x [N,C,H,W], w [C,O/groups,kH,kW] ->
/// [N,O,H_out,W_out], H_out = (H - 1) stride - 2 pad + dil (kH - 1) +
/// output_padding + 1. Computed as conv2d_input_grad of a convolution from
/// [N,O,H_out,W_out] with weights w. output_padding must be smaller than
/// stride or dilation; a non-positive output size throws. Dtypes as conv2d.
array conv_transpose2d(const array& x, const array& w, Pair stride = {1, 1}, Pair padding = {0, 0},
                       Pair output_padding = {0, 0}, Pair dilation = {1, 1}, int groups = 1);
/// Max pooling over the last two axes of [N,C,H,W] (or [C,H,W]); padding
/// acts as -inf (the dtype's lowest value for integers), stride defaults to
/// the kernel, floor mode: H_out = floor((H + 2 pad - kH) / stride) + 1.
/// Like PyTorch, padding must be at most half the kernel. Keeps the dtype.
array max_pool2d(const array& x, Pair kernel, std::optional<Pair> stride = std::nullopt,
                 Pair padding = {0, 0});
/// Average pooling, same geometry as max_pool2d. With `count_include_pad`
/// (PyTorch's default) every window divides by kH*kW; otherwise by the number
/// of window elements inside the input. Integers compute in float32, halves
/// accumulate in float32 and round back.
array avg_pool2d(const array& x, Pair kernel, std::optional<Pair> stride = std::nullopt,
                 Pair padding = {0, 0}, bool count_include_pad = true);

enum class InterpolateMode { nearest, bilinear };
/// Resizes the last two axes of [N,C,H,W] to `size` (PyTorch F.interpolate).
/// nearest: src = min(floor(dst * in / out), in - 1) (scale in float32, like
/// PyTorch's 'nearest'); keeps the dtype; align_corners must be false.
/// bilinear: align_corners=true maps src = dst * (in - 1) / (out - 1);
/// false uses src = (dst + 0.5) * in / out - 0.5 clamped at 0; integers
/// compute in float32.
array interpolate(const array& x, Pair size, InterpolateMode mode = InterpolateMode::nearest,
                  bool align_corners = false);

/// (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased
/// variance); weight/bias of shape [D] are optional. Integers give float32;
/// halves compute their statistics in float32 and round back.
array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps = 1e-5);
/// GroupNorm over [N,C,...]: statistics over each group of C/groups channels
/// and all trailing axes; `groups` must divide C; weight/bias of shape [C].
/// Dtypes as layer_norm.
array group_norm(const array& x, int groups, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps = 1e-5);
/// Inference-form batch norm over axis 1 of [N,C,...]:
/// (x - running_mean) / sqrt(running_var + eps) * weight + bias, all
/// parameters of shape [C]. Dtypes as layer_norm.
array batch_norm(const array& x, const array& running_mean, const array& running_var,
                 const std::optional<array>& weight, const std::optional<array>& bias,
                 double eps = 1e-5);
/// When `training` and 0 < p < 1: where(keep, x / (1 - p), 0) with
/// keep = random::bernoulli(key, 1 - p, x.shape()) (1 - p as float64 for
/// float64 x, else float32), so a key always drops the same elements;
/// integers give float32. Returns `x` itself when !training or p == 0, and
/// zeros when p == 1. Throws unless 0 <= p <= 1. `key` from mfx::random::key
/// or split.
array dropout(const array& x, double p, const array& key, bool training = true);

}  // namespace mfx
