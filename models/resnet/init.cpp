// torchvision's ResNet initialisation as a function of a random key.
#include <cmath>

#include "mfx/ops.h"
#include "mfx/random.h"
#include "mfx/resnet/resnet.h"

namespace mfx::resnet {

Tree init_resnet(const array& key, const ResNetConfig& cfg) {
  const auto specs = resnet_param_specs(cfg);
  std::vector<std::pair<std::string, array>> items;
  items.reserve(specs.size());
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  // The last norm of each residual branch: bn2 of a basic block, bn3 of a
  // bottleneck.
  const std::string last_norm = cfg.depth == ResNetDepth::R50 ? ".bn3.weight" : ".bn2.weight";
  resnet_check_config(cfg);
  const bool zero_last = cfg.zero_init_residual;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& [name, shape] = specs[i];
    array value;
    if (shape.size() == 4) {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu").
      const double fan_out = static_cast<double>(shape[0] * shape[2] * shape[3]);
      value = random::normal(random::fold_in(key, i), shape, 0.0, std::sqrt(2.0 / fan_out));
    } else if (zero_last && name.rfind("layer", 0) == 0 && ends_with(name, last_norm)) {
      value = zeros(shape);
    } else if (ends_with(name, ".weight") || ends_with(name, ".running_var")) {
      value = ones(shape);
    } else {
      value = zeros(shape);
    }
    items.emplace_back(name, value);
  }
  return Tree::from_flat(items);
}

}  // namespace mfx::resnet
