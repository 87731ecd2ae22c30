// ResNet-18/34/50 backbones (torchvision layout, v1.5 bottlenecks with the
// stride on the 3x3 conv) as pure functions of a parameter Tree whose dotted
// paths are the PyTorch state_dict names ("conv1.weight", "bn1.running_var",
// "layer2.0.downsample.0.weight", ...). BatchNorm is frozen as in DETR
// (y = x * scale + shift, scale = weight * rsqrt(running_var + 1e-5),
// shift = bias - running_mean * scale), or GroupNorm for a backbone trained
// from scratch (ResNetConfig::norm); the classifier ("fc") is not part of
// the backbone. Inputs are float32 NCHW normalised images; the outputs are
// the C3-C5 feature maps.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx::resnet {

enum class ResNetDepth { R18, R34, R50 };

/// How the backbone normalises its activations.
enum class BackboneNorm {
  /// DETR's FrozenBatchNorm2d: fixed statistics and affine (right for an
  /// ImageNet-pretrained backbone; the identity for a random one).
  frozen_batch_norm,
  /// GroupNorm with a trained affine (the BN tensors' weight and bias; the
  /// running statistics are kept in the tree but unused): for training a
  /// backbone from scratch, where fixed statistics leave the residual
  /// branches unnormalised.
  group_norm,
};

struct ResNetConfig {
  ResNetDepth depth = ResNetDepth::R50;
  /// When false (DETR's default) conv1 and layer1 are frozen as well as every
  /// BatchNorm; when true only the BatchNorms are frozen.
  bool train_stem_and_layer1 = false;
  /// Replaces the stride of layer4 by dilation 2 (C5 at stride 16), as
  /// torchvision's replace_stride_with_dilation=[False, False, True].
  /// Bottleneck (R50) only, like torchvision.
  bool dilation_c5 = false;
  /// Divides every channel width (stem 64, layer widths 64/128/256/512) by
  /// this number, keeping the topology: small networks for tests and CPU
  /// presets. 1 gives the torchvision network; must divide 64.
  int width_divisor = 1;
  BackboneNorm norm = BackboneNorm::frozen_batch_norm;
  /// group_norm: groups per layer, gcd(norm_groups, channels).
  int norm_groups = 8;
  /// The last norm of each residual branch starts at weight 0, so every
  /// block starts as the identity (torchvision's zero_init_residual). Only
  /// with a trained norm (group_norm): a frozen zero would cut the branch
  /// off for good.
  bool zero_init_residual = false;
};

/// "frozen_batch_norm" / "group_norm", and back (std::invalid_argument
/// naming `what` for any other text).
std::string to_string(BackboneNorm norm);
BackboneNorm parse_backbone_norm(const std::string& text, const std::string& what);

/// A parameter of the backbone: its state_dict name and shape.
struct ResNetParam {
  std::string name;
  Shape shape;
};

/// Every backbone tensor (conv weights, BN weight/bias/running_mean/
/// running_var) in construction order, without "fc.*". Throws
/// std::invalid_argument for an invalid config (see resnet_check_config).
std::vector<ResNetParam> resnet_param_specs(const ResNetConfig& cfg);

/// Throws std::invalid_argument starting with "[resnet]" when width_divisor
/// does not divide 64 (or is < 1), dilation_c5 is set for R18/R34, or
/// zero_init_residual is set with frozen BatchNorm.
void resnet_check_config(const ResNetConfig& cfg);

/// Channels of C3, C4, C5: 128/256/512 for R18/R34, 512/1024/2048 for R50
/// (divided by width_divisor).
std::vector<int64_t> resnet_feature_channels(const ResNetConfig& cfg);

/// Random parameters with torchvision's init: convs kaiming normal with
/// fan_out and gain sqrt(2) (std = sqrt(2 / (out_channels * kH * kW))), BN
/// weight 1, bias 0, running_mean 0, running_var 1. Each conv draws from
/// random::fold_in(key, its index in resnet_param_specs). With
/// zero_init_residual the last norm of each residual branch starts at
/// weight 0. Arrays are lazy.
Tree init_resnet(const array& key, const ResNetConfig& cfg);

/// DETR's FrozenBatchNorm2d over axis 1 of x [N, C, H, W]: x * scale + shift
/// with scale = weight * rsqrt(running_var + eps), shift = bias -
/// running_mean * scale (all four of shape [C]). Gradients flow to every
/// argument (resnet_forward blocks them). Throws std::invalid_argument
/// ("[frozen_batch_norm]") when x is not 4-d or a parameter is not [C].
array frozen_batch_norm(const array& x, const array& weight, const array& bias,
                        const array& running_mean, const array& running_var, float eps = 1e-5f);

/// Feature maps at strides 8, 16 and 32 (16 for c5 with dilation_c5).
struct Features {
  array c3, c4, c5;
};

/// The backbone forward: conv1 7x7/2, BN, ReLU, max pool 3x3/2, layer1..4;
/// returns the outputs of layer2..4. x is [N, 3, H, W] float32. Frozen
/// parameters (resnet_is_trainable false) pass through stop_gradient, so
/// their gradients are zero. Throws std::invalid_argument ("[resnet_forward]")
/// for a non-4-d input or one with a channel count other than 3, and for a
/// parameter tree lacking a tensor of the config or holding one of a
/// different shape (extra leaves are ignored).
Features resnet_forward(const Tree& params, const array& x, const ResNetConfig& cfg);

/// Whether the parameter at `path` (a state_dict name relative to the
/// backbone) is trained: running statistics never; BN weight and bias only
/// with group_norm; conv1.*, bn1.* and layer1.* only with
/// train_stem_and_layer1; every other conv weight yes.
bool resnet_is_trainable(const std::string& path, const ResNetConfig& cfg);

/// A Tree of the structure of `params` with a bool scalar per leaf:
/// resnet_is_trainable of its path (for optimisers to skip frozen leaves).
Tree resnet_trainable_mask(const Tree& params, const ResNetConfig& cfg);

/// Parameter counts in torchvision's sense (conv weights and BN weight/bias;
/// the BN running statistics are buffers, counted apart).
struct ParamCount {
  int64_t total = 0;      ///< nn.Parameter elements (fc excluded)
  int64_t trainable = 0;  ///< elements of parameters with resnet_is_trainable
  int64_t buffers = 0;    ///< running_mean / running_var elements
};
/// Counts the leaves of `params` (names as resnet_param_specs).
ParamCount resnet_count_params(const Tree& params, const ResNetConfig& cfg);

/// Loads the backbone of a safetensors state dict with PyTorch names, e.g. a
/// torchvision resnet50 file (prefix "") or a Deformable DETR checkpoint
/// (prefix "backbone.0.body."). Keys not starting with `prefix` are ignored;
/// after stripping it, "fc.*" and "*.num_batches_tracked" are ignored too.
/// Floating tensors are converted to float32. Throws std::invalid_argument
/// naming the file and listing the missing, unexpected and mis-shaped (or
/// non-floating) names; I/O and format errors as load_safetensors.
Tree load_torch_weights(const std::string& path, const ResNetConfig& cfg,
                        const std::string& prefix = "");

}  // namespace mfx::resnet
