// The block structure of a ResNet config, shared by the parameter specs, the
// initialiser and the forward pass so that names and shapes cannot drift.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mfx/resnet/resnet.h"

namespace mfx::resnet::detail {

/// One residual block: "layer<L>.<i>" with its channel widths and geometry.
struct Block {
  std::string prefix;       ///< e.g. "layer2.0"
  int layer = 1;            ///< 1..4
  bool bottleneck = false;  ///< Bottleneck (R50) or BasicBlock (R18/R34)
  int64_t in = 0;           ///< input channels
  int64_t width = 0;        ///< inner width (planes)
  int64_t out = 0;          ///< output channels (planes * expansion)
  int64_t stride = 1;       ///< stride of the 3x3 conv (and the downsample)
  int64_t dilation = 1;     ///< dilation (and padding) of the 3x3 conv
  bool downsample = false;  ///< 1x1 conv + BN on the identity path
};

/// Stem output channels (64 / width_divisor).
int64_t stem_channels(const ResNetConfig& cfg);
/// The blocks of layer1..layer4 in order (validates cfg).
std::vector<Block> blocks(const ResNetConfig& cfg);

}  // namespace mfx::resnet::detail
