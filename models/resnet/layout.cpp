// ResNet layout (torchvision's _make_layer) and the parameter naming built on it.
#include "resnet/layout.h"

#include <fmt/format.h>

#include <stdexcept>

namespace mfx::resnet {

namespace detail {

int64_t stem_channels(const ResNetConfig& cfg) {
  resnet_check_config(cfg);
  return 64 / cfg.width_divisor;
}

std::vector<Block> blocks(const ResNetConfig& cfg) {
  resnet_check_config(cfg);
  const bool bottleneck = cfg.depth == ResNetDepth::R50;
  const std::vector<int> counts =
      cfg.depth == ResNetDepth::R18 ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
  const int64_t expansion = bottleneck ? 4 : 1;
  std::vector<Block> out;
  int64_t in = stem_channels(cfg);
  int64_t dilation = 1;
  for (int layer = 1; layer <= 4; ++layer) {
    const int64_t planes = (int64_t{64} << (layer - 1)) / cfg.width_divisor;
    int64_t stride = layer == 1 ? 1 : 2;
    // torchvision: the first block of a dilated layer keeps the previous
    // dilation and its remaining blocks use the new one.
    const int64_t previous_dilation = dilation;
    if (layer == 4 && cfg.dilation_c5) {
      dilation *= stride;
      stride = 1;
    }
    for (int i = 0; i < counts[layer - 1]; ++i) {
      Block b;
      b.prefix = fmt::format("layer{}.{}", layer, i);
      b.layer = layer;
      b.bottleneck = bottleneck;
      b.in = in;
      b.width = planes;
      b.out = planes * expansion;
      b.stride = i == 0 ? stride : 1;
      b.dilation = i == 0 ? previous_dilation : dilation;
      b.downsample = i == 0 && (stride != 1 || in != planes * expansion);
      out.push_back(b);
      in = b.out;
    }
  }
  return out;
}

}  // namespace detail

using detail::Block;

void resnet_check_config(const ResNetConfig& cfg) {
  if (cfg.width_divisor < 1 || 64 % cfg.width_divisor != 0) {
    throw std::invalid_argument(
        fmt::format("[resnet] width_divisor must divide 64, got {}", cfg.width_divisor));
  }
  if (cfg.norm_groups < 1) {
    throw std::invalid_argument(
        fmt::format("[resnet] norm_groups must be positive, got {}", cfg.norm_groups));
  }
  if (cfg.zero_init_residual && cfg.norm != BackboneNorm::group_norm) {
    throw std::invalid_argument(
        "[resnet] zero_init_residual needs a trained norm (group_norm): a frozen BatchNorm "
        "weight of 0 would switch every residual branch off for good");
  }
  if (cfg.dilation_c5 && cfg.depth != ResNetDepth::R50) {
    throw std::invalid_argument(
        "[resnet] dilation_c5 needs bottleneck blocks (R50); BasicBlock (R18/R34) has no "
        "dilation");
  }
}

std::vector<int64_t> resnet_feature_channels(const ResNetConfig& cfg) {
  resnet_check_config(cfg);
  const int64_t expansion = cfg.depth == ResNetDepth::R50 ? 4 : 1;
  std::vector<int64_t> c;
  for (int64_t planes : {128, 256, 512}) c.push_back(planes * expansion / cfg.width_divisor);
  return c;
}

namespace {

void add_conv(std::vector<ResNetParam>& out, const std::string& name, int64_t o, int64_t i,
              int64_t k) {
  out.push_back({name + ".weight", {o, i, k, k}});
}

void add_bn(std::vector<ResNetParam>& out, const std::string& name, int64_t c) {
  for (const char* field : {"weight", "bias", "running_mean", "running_var"}) {
    out.push_back({name + "." + field, {c}});
  }
}

}  // namespace

std::vector<ResNetParam> resnet_param_specs(const ResNetConfig& cfg) {
  resnet_check_config(cfg);
  std::vector<ResNetParam> out;
  const int64_t stem = detail::stem_channels(cfg);
  add_conv(out, "conv1", stem, 3, 7);
  add_bn(out, "bn1", stem);
  for (const Block& b : detail::blocks(cfg)) {
    const std::string& p = b.prefix;
    if (b.bottleneck) {
      add_conv(out, p + ".conv1", b.width, b.in, 1);
      add_bn(out, p + ".bn1", b.width);
      add_conv(out, p + ".conv2", b.width, b.width, 3);
      add_bn(out, p + ".bn2", b.width);
      add_conv(out, p + ".conv3", b.out, b.width, 1);
      add_bn(out, p + ".bn3", b.out);
    } else {
      add_conv(out, p + ".conv1", b.width, b.in, 3);
      add_bn(out, p + ".bn1", b.width);
      add_conv(out, p + ".conv2", b.out, b.width, 3);
      add_bn(out, p + ".bn2", b.out);
    }
    if (b.downsample) {
      add_conv(out, p + ".downsample.0", b.out, b.in, 1);
      add_bn(out, p + ".downsample.1", b.out);
    }
  }
  return out;
}

bool resnet_is_trainable(const std::string& path, const ResNetConfig& cfg) {
  // Conv weights are the only 4-d tensors; norm tensors sit under "bn*" or
  // "downsample.1": their statistics are always frozen, their affine trains
  // only as GroupNorm's.
  auto ends_with = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  const bool conv = path.rfind("conv", 0) == 0 || path.find(".conv") != std::string::npos ||
                    path.find(".downsample.0.") != std::string::npos;
  const bool norm_affine = !conv && cfg.norm == BackboneNorm::group_norm &&
                           (ends_with(".weight") || ends_with(".bias"));
  if (!norm_affine && (!conv || !ends_with(".weight"))) return false;
  if (cfg.train_stem_and_layer1) return true;
  return path.rfind("conv1.", 0) != 0 && path.rfind("bn1.", 0) != 0 &&
         path.rfind("layer1.", 0) != 0;
}

Tree resnet_trainable_mask(const Tree& params, const ResNetConfig& cfg) {
  return params.map_with_path(
      [&](const std::string& path, const array&) { return array(resnet_is_trainable(path, cfg)); });
}

ParamCount resnet_count_params(const Tree& params, const ResNetConfig& cfg) {
  ParamCount c;
  for (const auto& [path, leaf] : params.flatten()) {
    const bool buffer = path.find("running_") != std::string::npos;
    if (buffer) {
      c.buffers += leaf.size();
      continue;
    }
    c.total += leaf.size();
    if (resnet_is_trainable(path, cfg)) c.trainable += leaf.size();
  }
  return c;
}

}  // namespace mfx::resnet
