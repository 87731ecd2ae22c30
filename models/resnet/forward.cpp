// The ResNet backbone forward pass with frozen BatchNorm or GroupNorm.
#include <fmt/format.h>

#include <numeric>

#include <map>
#include <stdexcept>

#include "mfx/nn.h"
#include "mfx/ops.h"
#include "mfx/resnet/resnet.h"
#include "resnet/layout.h"

namespace mfx::resnet {

namespace {

using detail::Block;

class Forward {
 public:
  Forward(const Tree& params, const ResNetConfig& cfg) : params_(params), cfg_(cfg) {
    for (const auto& s : resnet_param_specs(cfg)) shapes_.emplace(s.name, s.shape);
  }

  /// The parameter at `name`, checked against its expected shape, with the
  /// gradient blocked when it is frozen.
  array param(const std::string& name) const {
    const Shape& expected = shapes_.at(name);
    if (!params_.contains(name)) {
      throw std::invalid_argument(
          fmt::format("[resnet_forward] parameter '{}' {} is missing from the tree", name,
                      shape_str(expected)));
    }
    const array& p = params_.at(name);
    if (p.shape() != expected) {
      throw std::invalid_argument(
          fmt::format("[resnet_forward] parameter '{}' has shape {}, expected {}", name,
                      shape_str(p.shape()), shape_str(expected)));
    }
    return resnet_is_trainable(name, cfg_) ? p : stop_gradient(p);
  }

  array conv(const array& x, const std::string& name, int64_t stride = 1, int64_t padding = 0,
             int64_t dilation = 1) const {
    return conv2d(x, param(name + ".weight"), {stride, stride}, {padding, padding},
                  {dilation, dilation});
  }

  /// The norm at `name` (the BN tensors' names either way). Frozen BN:
  /// DETR's FrozenBatchNorm2d, statistics and affine folded into one
  /// per-channel scale and shift. GroupNorm: the weight and bias only.
  array norm(const array& x, const std::string& name) const {
    // Named locals fix the order of the checks (and of their errors).
    const array weight = param(name + ".weight");
    const array bias = param(name + ".bias");
    const array mean = param(name + ".running_mean");
    const array var = param(name + ".running_var");
    if (cfg_.norm == BackboneNorm::group_norm) {
      const int groups = std::gcd(cfg_.norm_groups, static_cast<int>(x.shape(1)));
      return group_norm(x, groups, weight, bias);
    }
    return frozen_batch_norm(x, weight, bias, mean, var);
  }

  array block(const array& x, const Block& b) const {
    const std::string& p = b.prefix;
    array y;
    if (b.bottleneck) {
      y = relu(norm(conv(x, p + ".conv1"), p + ".bn1"));
      y = relu(norm(conv(y, p + ".conv2", b.stride, b.dilation, b.dilation), p + ".bn2"));
      y = norm(conv(y, p + ".conv3"), p + ".bn3");
    } else {
      y = relu(norm(conv(x, p + ".conv1", b.stride, b.dilation, b.dilation), p + ".bn1"));
      y = norm(conv(y, p + ".conv2", 1, b.dilation, b.dilation), p + ".bn2");
    }
    const array identity =
        b.downsample ? norm(conv(x, p + ".downsample.0", b.stride), p + ".downsample.1") : x;
    return relu(y + identity);
  }

 private:
  const Tree& params_;
  const ResNetConfig& cfg_;
  std::map<std::string, Shape> shapes_;
};

}  // namespace

array frozen_batch_norm(const array& x, const array& weight, const array& bias,
                        const array& running_mean, const array& running_var, float eps) {
  if (x.ndim() != 4) {
    throw std::invalid_argument(fmt::format(
        "[frozen_batch_norm] expected x of shape [N, C, H, W], got {}", shape_str(x.shape())));
  }
  const Shape c{x.shape(1)};
  for (const array* p : {&weight, &bias, &running_mean, &running_var}) {
    if (p->shape() != c) {
      throw std::invalid_argument(
          fmt::format("[frozen_batch_norm] parameters must have shape {} for x {}, got {}",
                      shape_str(c), shape_str(x.shape()), shape_str(p->shape())));
    }
  }
  // Folding the statistics into one scale and shift per channel keeps the
  // per-pixel work at a multiply-add.
  const array scale = weight * rsqrt(running_var + array(eps));
  const array shift = bias - running_mean * scale;
  const Shape bshape{1, c[0], 1, 1};
  return x * reshape(scale, bshape) + reshape(shift, bshape);
}

std::string to_string(BackboneNorm norm) {
  return norm == BackboneNorm::group_norm ? "group_norm" : "frozen_batch_norm";
}

BackboneNorm parse_backbone_norm(const std::string& text, const std::string& what) {
  if (text == "frozen_batch_norm") return BackboneNorm::frozen_batch_norm;
  if (text == "group_norm") return BackboneNorm::group_norm;
  throw std::invalid_argument(fmt::format(
      "{}: expected \"frozen_batch_norm\" or \"group_norm\", got \"{}\"", what, text));
}

Features resnet_forward(const Tree& params, const array& x, const ResNetConfig& cfg) {
  if (x.ndim() != 4 || x.shape(1) != 3) {
    throw std::invalid_argument(fmt::format(
        "[resnet_forward] expected an image batch [N, 3, H, W], got {}", shape_str(x.shape())));
  }
  if (!is_floating(x.dtype())) {
    throw std::invalid_argument(
        fmt::format("[resnet_forward] expected a floating input, got {}", dtype_name(x.dtype())));
  }
  Forward f(params, cfg);
  array h = relu(f.norm(f.conv(x, "conv1", 2, 3), "bn1"));
  h = max_pool2d(h, {3, 3}, Pair{2, 2}, {1, 1});
  Features out;
  for (const Block& b : detail::blocks(cfg)) {
    h = f.block(h, b);
    // Each layer's last block overwrites its earlier ones: C3..C5 are the
    // outputs of layer2..4.
    if (b.layer == 2) out.c3 = h;
    if (b.layer == 3) out.c4 = h;
    if (b.layer == 4) out.c5 = h;
  }
  return out;
}

}  // namespace mfx::resnet
