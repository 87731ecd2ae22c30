// Loading torchvision / Deformable DETR backbone weights from safetensors.
#include <fmt/format.h>

#include <map>
#include <set>
#include <stdexcept>

#include "mfx/io.h"
#include "mfx/ops.h"
#include "mfx/resnet/resnet.h"

namespace mfx::resnet {

namespace {

bool starts_with(const std::string& s, const std::string& head) {
  return s.compare(0, head.size(), head) == 0;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// "a, b, c" with at most `limit` names, then "... (N more)".
std::string name_list(const std::vector<std::string>& names, size_t limit = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  if (names.size() > limit) out += fmt::format(", ... ({} more)", names.size() - limit);
  return out;
}

}  // namespace

Tree load_torch_weights(const std::string& path, const ResNetConfig& cfg,
                        const std::string& prefix) {
  const auto specs = resnet_param_specs(cfg);
  auto tensors = load_safetensors(path);

  // Backbone tensors under `prefix`, with the prefix stripped. The
  // classifier and BatchNorm's step counter are not backbone parameters.
  std::map<std::string, array> found;
  for (auto& [name, value] : tensors) {
    if (!starts_with(name, prefix)) continue;
    std::string local = name.substr(prefix.size());
    if (starts_with(local, "fc.") || ends_with(local, ".num_batches_tracked")) continue;
    found.emplace(std::move(local), value);
  }

  std::vector<std::string> missing, unexpected, misshaped;
  std::vector<std::pair<std::string, array>> items;
  std::set<std::string> known;
  for (const auto& [name, shape] : specs) {
    known.insert(name);
    auto it = found.find(name);
    if (it == found.end()) {
      missing.push_back(prefix + name);
      continue;
    }
    const array& v = it->second;
    if (v.shape() != shape || !is_floating(v.dtype())) {
      misshaped.push_back(fmt::format("{} ({} {}, expected float32 {})", prefix + name,
                                      dtype_name(v.dtype()), shape_str(v.shape()),
                                      shape_str(shape)));
      continue;
    }
    items.emplace_back(name, v.dtype() == float32 ? v : astype(v, float32));
  }
  for (const auto& [name, v] : found) {
    if (!known.count(name)) unexpected.push_back(prefix + name);
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    std::string msg = fmt::format("[load_torch_weights] {}: does not match the backbone", path);
    if (!missing.empty()) {
      msg += fmt::format("; missing {}: {}", missing.size(), name_list(missing));
    }
    if (!unexpected.empty()) {
      msg += fmt::format("; unexpected {}: {}", unexpected.size(), name_list(unexpected));
    }
    if (!misshaped.empty()) {
      msg += fmt::format("; mis-shaped {}: {}", misshaped.size(), name_list(misshaped));
    }
    if (found.empty()) {
      msg += fmt::format(" (no tensor names start with the prefix '{}')", prefix);
    }
    throw std::invalid_argument(msg);
  }
  Tree tree = Tree::from_flat(items);
  eval(tree);
  return tree;
}

}  // namespace mfx::resnet
