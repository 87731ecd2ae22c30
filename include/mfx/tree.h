// Tree: a nested map/list of arrays (a "pytree") for parameters, gradients
// and optimiser state.
//
// Order is deterministic everywhere: dict keys in sorted (byte-wise) order,
// list items in order. A leaf's path joins the keys and list positions from
// the root with dots ("backbone.layer1.0.conv1.weight"); the root leaf's
// path is "". Structural errors throw std::invalid_argument naming the key,
// path or both structures involved.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "mfx/array.h"

namespace mfx {

class Tree {
 public:
  using Dict = std::map<std::string, Tree>;
  using List = std::vector<Tree>;

  /// An empty dict.
  Tree() : node_(Dict{}) {}
  Tree(array leaf) : node_(std::move(leaf)) {}
  Tree(Dict d) : node_(std::move(d)) {}
  Tree(List l) : node_(std::move(l)) {}
  Tree(std::initializer_list<std::pair<const std::string, Tree>> items) : node_(Dict(items)) {}

  bool is_leaf() const { return std::holds_alternative<array>(node_); }
  bool is_dict() const { return std::holds_alternative<Dict>(node_); }
  bool is_list() const { return std::holds_alternative<List>(node_); }

  /// The leaf array; throws std::invalid_argument if this node is not a leaf.
  const array& leaf() const;
  array& leaf();
  /// The children of a dict node; throws if this node is not a dict.
  const Dict& dict() const;
  Dict& dict();
  /// The children of a list node; throws if this node is not a list.
  const List& list() const;
  List& list();

  /// Child by key (dict); throws naming the missing key and the keys present.
  const Tree& operator[](const std::string& key) const;
  /// Child by key, inserted (as an empty dict) if missing; throws if this
  /// node is not a dict.
  Tree& operator[](const std::string& key);
  /// Child by position (list); throws naming the index and the list length.
  const Tree& operator[](size_t i) const;
  Tree& operator[](size_t i);
  /// Number of children (1 for a leaf).
  size_t size() const;

  /// Leaf at a dotted path, e.g. "backbone.layer1.0.conv1.weight" (list
  /// positions are decimal numbers). Throws naming the path and the first
  /// component that is missing, out of range or not a leaf.
  const array& at(const std::string& path) const;
  /// True when at(path) would find a leaf.
  bool contains(const std::string& path) const;

  /// Leaves in deterministic order (dict keys sorted, lists in order).
  std::vector<array> leaves() const;
  /// Dotted paths of the leaves, in the order of leaves().
  std::vector<std::string> paths() const;
  /// (path, leaf) pairs in the order of leaves().
  std::vector<std::pair<std::string, array>> flatten() const;
  /// Same structure as this tree with the leaves replaced, in the order of
  /// leaves(); throws if the count differs.
  Tree unflatten(const std::vector<array>& leaves) const;
  /// Rebuilds a tree from dotted paths (in any order); every dict whose keys
  /// are exactly "0".."n-1" (n >= 1, no leading zeros) becomes a list. A
  /// single item with path "" gives a leaf; no items give an empty dict.
  /// Throws on duplicate paths, empty path components, and paths that are
  /// both a leaf and a prefix of another path ("a" and "a.b").
  static Tree from_flat(const std::vector<std::pair<std::string, array>>& items);

  /// Applies f to every leaf.
  Tree map(const std::function<array(const array&)>& f) const;
  /// Applies f to matching leaves of two trees of the same structure; throws
  /// showing both structures (and the first difference) otherwise.
  static Tree map(const std::function<array(const array&, const array&)>& f, const Tree& a,
                  const Tree& b);
  /// Applies f(path, leaf) to every leaf.
  Tree map_with_path(const std::function<array(const std::string&, const array&)>& f) const;

  /// True when both trees have the same nesting, keys and list lengths.
  bool same_structure(const Tree& other) const;
  /// Structure as text, e.g. "{a: *, b: [*, *]}" (for error messages).
  std::string structure_str() const;

 private:
  std::variant<array, Dict, List> node_;
};

/// Evaluates every leaf in a single mfx::eval call (shared subgraphs run once).
void eval(const Tree& tree);

}  // namespace mfx
