// Reference Deformable DETR checkpoints <-> detector Trees. The reference
// keeps one class / box head per decoder layer (ModuleList of copies of the
// same module without box refinement); the Tree stores the shared head once.
#include <fmt/format.h>

#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mfx/detr/detector.h"
#include "mfx/io.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string name_list(const std::vector<std::string>& names, size_t limit = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  if (names.size() > limit) out += fmt::format(", ... ({} more)", names.size() - limit);
  return out;
}

// Shapes of every leaf of the detector (lazy init: nothing is computed).
std::map<std::string, Shape> expected_shapes(const DetectorConfig& cfg) {
  std::map<std::string, Shape> out;
  for (const auto& [path, leaf] : init_detector(random::key(0), cfg).flatten()) {
    out.emplace(path, leaf.shape());
  }
  return out;
}

// A reference name -> (Tree path, head copy index or -1).
std::pair<std::string, int64_t> tree_name(const std::string& name) {
  static const std::regex head(R"(^(class_embed|bbox_embed)\.(\d+)\.(.*)$)");
  std::smatch m;
  if (std::regex_match(name, m, head)) {
    return {m[1].str() + "." + m[3].str(), std::stoll(m[2].str())};
  }
  return {name, -1};
}

bool is_head(const std::string& path) {
  return path.rfind("class_embed.", 0) == 0 || path.rfind("bbox_embed.", 0) == 0;
}

// Tree path of a shared head -> the reference name of copy i.
std::string head_copy(const std::string& tpath, int64_t i) {
  const size_t dot = tpath.find('.');
  return tpath.substr(0, dot) + "." + std::to_string(i) + tpath.substr(dot);
}

[[noreturn]] void mismatch(const char* fn, const std::string& path, const std::string& what,
                           const std::vector<std::string>& missing,
                           const std::vector<std::string>& unexpected,
                           const std::vector<std::string>& misshaped) {
  std::string msg = fmt::format("[{}] {}: {}", fn, path, what);
  if (!missing.empty()) msg += fmt::format("; missing {}: {}", missing.size(), name_list(missing));
  if (!unexpected.empty()) {
    msg += fmt::format("; unexpected {}: {}", unexpected.size(), name_list(unexpected));
  }
  if (!misshaped.empty()) {
    msg += fmt::format("; mis-shaped {}: {}", misshaped.size(), name_list(misshaped));
  }
  throw std::invalid_argument(msg);
}

}  // namespace

Tree load_reference_checkpoint(const std::string& path, const DetectorConfig& cfg) {
  constexpr const char* fn = "load_reference_checkpoint";
  cfg.validate();
  if (cfg.detr.two_stage) {
    throw std::invalid_argument(fmt::format(
        "[{}] {}: two-stage models have no reference layout here (only the plain model's)", fn,
        path));
  }
  const auto shapes = expected_shapes(cfg);
  const auto tensors = load_safetensors(path);
  const int64_t copies = cfg.detr.dec_layers;

  std::map<std::string, array> found;  // Tree path -> tensor (head copy 0)
  std::map<std::string, std::string> source;
  std::set<std::string> seen;  // Tree paths present in the file, well-shaped or not
  std::map<std::string, std::set<int64_t>> copies_of;  // indexed head copies present
  std::vector<std::string> unexpected, misshaped, differing;
  std::vector<std::pair<std::string, std::string>> duplicates;  // (copy i name, Tree path)
  for (const auto& [name, value] : tensors) {
    if (ends_with(name, ".num_batches_tracked")) continue;
    const auto [tpath, copy] = tree_name(name);
    auto it = shapes.find(tpath);
    if (it == shapes.end() || copy >= copies) {
      unexpected.push_back(name);
      continue;
    }
    if (copy <= 0) seen.insert(tpath);
    if (copy >= 0) copies_of[tpath].insert(copy);
    if (value.shape() != it->second || !is_floating(value.dtype())) {
      misshaped.push_back(fmt::format("{} ({} {}, expected float32 {})", name,
                                      dtype_name(value.dtype()), shape_str(value.shape()),
                                      shape_str(it->second)));
      continue;
    }
    if (copy > 0) {
      duplicates.emplace_back(name, tpath);
      continue;
    }
    if (found.count(tpath)) {
      unexpected.push_back(fmt::format("{} (a second copy of {})", name, source[tpath]));
      continue;
    }
    found.emplace(tpath, value);
    source.emplace(tpath, name);
  }
  std::vector<std::string> missing;
  for (const auto& [tpath, shape] : shapes) {
    if (!seen.count(tpath)) {
      missing.push_back(is_head(tpath) ? head_copy(tpath, 0) : tpath);
    }
  }
  // Indexed heads come as one copy per decoder layer.
  for (const auto& [tpath, present] : copies_of) {
    for (int64_t i = 1; i < copies; ++i) {
      if (!present.count(i)) missing.push_back(head_copy(tpath, i));
    }
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    mismatch(fn, path, "does not match the detector", missing, unexpected, misshaped);
  }
  // Copies of the shared heads must be equal: a checkpoint trained with box
  // refinement has per-layer heads that one shared head cannot represent.
  for (const auto& [name, tpath] : duplicates) {
    const array& a = tensors.at(name);
    const array& b = found.at(tpath);
    if (!array_equal(a, b)) differing.push_back(name + " vs " + source[tpath]);
  }
  if (!differing.empty()) {
    throw std::invalid_argument(fmt::format(
        "[{}] {}: the per-layer heads differ ({}); checkpoints with box refinement are not "
        "supported",
        fn, path, name_list(differing)));
  }
  std::vector<std::pair<std::string, array>> items;
  for (auto& [tpath, value] : found) {
    items.emplace_back(tpath, value.dtype() == float32 ? value : astype(value, float32));
  }
  Tree tree = Tree::from_flat(items);
  eval(tree);
  return tree;
}

void save_reference_checkpoint(const std::string& path, const Tree& params,
                               const DetectorConfig& cfg) {
  constexpr const char* fn = "save_reference_checkpoint";
  cfg.validate();
  if (cfg.detr.two_stage) {
    throw std::invalid_argument(fmt::format(
        "[{}] {}: two-stage models have no reference layout here (only the plain model's)", fn,
        path));
  }
  const auto shapes = expected_shapes(cfg);
  std::vector<std::string> missing, unexpected, misshaped;
  std::map<std::string, array> out;
  std::set<std::string> seen;
  for (const auto& [tpath, leaf] : params.flatten()) {
    auto it = shapes.find(tpath);
    if (it == shapes.end()) {
      unexpected.push_back(tpath);
      continue;
    }
    seen.insert(tpath);
    if (leaf.shape() != it->second || !is_floating(leaf.dtype())) {
      misshaped.push_back(fmt::format("{} ({} {}, expected {})", tpath, dtype_name(leaf.dtype()),
                                      shape_str(leaf.shape()), shape_str(it->second)));
      continue;
    }
    if (is_head(tpath)) {
      for (int64_t i = 0; i < cfg.detr.dec_layers; ++i) out.emplace(head_copy(tpath, i), leaf);
    } else {
      out.emplace(tpath, leaf);
    }
  }
  for (const auto& [tpath, shape] : shapes) {
    if (!seen.count(tpath)) missing.push_back(tpath);
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    mismatch(fn, path, "the parameters do not match the detector", missing, unexpected, misshaped);
  }
  save_safetensors(path, out);
}

}  // namespace mfx::detr
