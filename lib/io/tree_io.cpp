// Trees in safetensors files: leaves under their dotted paths, the exact
// nesting as JSON in the metadata (lists and dicts, empty ones included).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "mfx/io.h"

namespace mfx {

namespace {

using json = nlohmann::json;

// Deeper structure records are rejected rather than recursed into.
constexpr int kMaxDepth = 256;

// Objects for dicts, arrays for lists, the tensor name for a leaf.
json structure_json(const Tree& t, const std::string& path) {
  if (t.is_leaf()) return path;
  if (t.is_dict()) {
    json out = json::object();
    for (auto& [k, v] : t.dict()) out[k] = structure_json(v, path.empty() ? k : path + "." + k);
    return out;
  }
  json out = json::array();
  for (size_t i = 0; i < t.list().size(); ++i) {
    std::string key = std::to_string(i);
    out.push_back(structure_json(t.list()[i], path.empty() ? key : path + "." + key));
  }
  return out;
}

class TreeBuilder {
 public:
  TreeBuilder(const std::string& path, std::map<std::string, array>& arrays)
      : path_(path), arrays_(arrays) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(fmt::format("[load_tree] {}: {}", path_, problem));
  }

  Tree build(const json& s, int depth) {
    if (depth > kMaxDepth)
      fail(fmt::format("the recorded tree is nested deeper than {}", kMaxDepth));
    if (s.is_string()) {
      const auto& name = s.get_ref<const std::string&>();
      auto it = arrays_.find(name);
      if (it == arrays_.end()) {
        fail(
            fmt::format("the recorded tree refers to tensor '{}', which is not in the file", name));
      }
      if (!used_.insert(name).second) {
        fail(fmt::format("the recorded tree uses tensor '{}' twice", name));
      }
      return Tree(it->second);
    }
    if (s.is_object()) {
      Tree::Dict d;
      for (auto& [k, v] : s.items()) d.emplace(k, build(v, depth + 1));
      return Tree(std::move(d));
    }
    if (s.is_array()) {
      Tree::List l;
      for (auto& v : s) l.push_back(build(v, depth + 1));
      return Tree(std::move(l));
    }
    fail(
        fmt::format("the recorded tree holds a JSON {} (expected objects, arrays and tensor names)",
                    s.type_name()));
  }

  void check_all_used() const {
    for (auto& [name, a] : arrays_) {
      if (!used_.count(name)) {
        fail(fmt::format("tensor '{}' is not part of the recorded tree structure", name));
      }
    }
  }

 private:
  const std::string& path_;
  std::map<std::string, array>& arrays_;
  std::set<std::string> used_;
};

}  // namespace

void save_tree(const std::string& path, const Tree& tree,
               const std::map<std::string, std::string>& metadata) {
  if (metadata.count(tree_metadata_key)) {
    throw std::invalid_argument(fmt::format(
        "[save_tree] the metadata key '{}' is reserved for the tree structure", tree_metadata_key));
  }
  std::map<std::string, array> arrays;
  for (auto& [p, a] : tree.flatten()) {
    if (!arrays.emplace(p, a).second) {
      throw std::invalid_argument(fmt::format(
          "[save_tree] two leaves share the path '{}' (dict keys containing dots?)", p));
    }
  }
  std::map<std::string, std::string> meta = metadata;
  try {
    meta[tree_metadata_key] = structure_json(tree, "").dump();
  } catch (const json::exception& e) {
    throw std::invalid_argument(
        fmt::format("[save_tree] dict keys must be valid UTF-8 ({})", e.what()));
  }
  save_safetensors(path, arrays, meta);
}

Tree load_tree(const std::string& path, std::map<std::string, std::string>* metadata) {
  std::map<std::string, std::string> meta;
  std::map<std::string, array> arrays = load_safetensors(path, &meta);
  auto it = meta.find(tree_metadata_key);
  Tree tree;
  if (it != meta.end()) {
    TreeBuilder builder(path, arrays);
    json s;
    try {
      s = json::parse(it->second);
    } catch (const json::exception& e) {
      builder.fail(
          fmt::format("the '{}' metadata is not valid JSON ({})", tree_metadata_key, e.what()));
    }
    tree = builder.build(s, 0);
    builder.check_all_used();
    meta.erase(it);
  } else {
    std::vector<std::pair<std::string, array>> items(arrays.begin(), arrays.end());
    try {
      tree = Tree::from_flat(items);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(
          fmt::format("[load_tree] {}: the tensor names do not form a tree ({})", path, e.what()));
    }
  }
  if (metadata) *metadata = std::move(meta);
  return tree;
}

}  // namespace mfx
