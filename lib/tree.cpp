#include "mfx/tree.h"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <utility>

namespace mfx {

namespace {

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string kind_name(const Tree& t) {
  if (t.is_leaf()) return "a leaf";
  if (t.is_dict()) return "a dict";
  return "a list";
}

// "the root" or "'a.b'": where a problem sits, for error messages.
std::string where(const std::string& path) {
  return path.empty() ? std::string("the root") : fmt::format("'{}'", path);
}

// Up to 8 keys of a dict, for "key not found" messages.
std::string key_list(const Tree::Dict& d) {
  std::string out;
  size_t shown = 0;
  for (auto& [k, v] : d) {
    if (shown == 8) return out + fmt::format(", ... ({} keys)", d.size());
    out += (shown++ ? ", " : "") + k;
  }
  return out.empty() ? "none" : out;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  if (path.empty()) return parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// A canonical decimal list position ("0", "17"; not "01" or "+1") below `n`.
std::optional<size_t> parse_index(const std::string& s, size_t n) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  if (v >= n) return std::nullopt;
  return v;
}

// Leaf at parts[i..] below `t` (reached via `walked`), or nullptr with the
// reason in `why`. Dict keys may themselves contain dots, so every run of
// components that names a key is tried.
const array* find_leaf(const Tree& t, const std::vector<std::string>& parts, size_t i,
                       const std::string& walked, std::string& why) {
  if (i == parts.size()) {
    if (t.is_leaf()) return &t.leaf();
    why = fmt::format("{} is {}, not a leaf", where(walked), kind_name(t));
    return nullptr;
  }
  if (t.is_leaf()) {
    why = fmt::format("{} is a leaf, so it has no child '{}'", where(walked), parts[i]);
    return nullptr;
  }
  if (t.is_list()) {
    auto idx = parse_index(parts[i], t.list().size());
    if (!idx) {
      why = fmt::format("'{}' is not a valid position in the list at {} of length {}", parts[i],
                        where(walked), t.list().size());
      return nullptr;
    }
    return find_leaf(t.list()[*idx], parts, i + 1, join_path(walked, parts[i]), why);
  }
  const Tree::Dict& d = t.dict();
  std::string key;
  bool matched = false;
  for (size_t j = i; j < parts.size(); ++j) {
    key = j == i ? parts[i] : key + "." + parts[j];
    auto it = d.find(key);
    if (it == d.end()) continue;
    std::string sub_why;
    if (const array* r = find_leaf(it->second, parts, j + 1, join_path(walked, key), sub_why)) {
      return r;
    }
    if (!matched) why = sub_why;
    matched = true;
  }
  if (!matched) {
    why = fmt::format("key '{}' not found in the dict at {} (keys: {})", parts[i], where(walked),
                      key_list(d));
  }
  return nullptr;
}

void flatten_into(const Tree& t, const std::string& prefix,
                  std::vector<std::pair<std::string, array>>& out) {
  if (t.is_leaf()) {
    out.emplace_back(prefix, t.leaf());
  } else if (t.is_dict()) {
    for (auto& [k, v] : t.dict()) flatten_into(v, join_path(prefix, k), out);
  } else {
    const auto& l = t.list();
    for (size_t i = 0; i < l.size(); ++i)
      flatten_into(l[i], join_path(prefix, std::to_string(i)), out);
  }
}

void leaves_into(const Tree& t, std::vector<array>& out) {
  if (t.is_leaf()) {
    out.push_back(t.leaf());
  } else if (t.is_dict()) {
    for (auto& [k, v] : t.dict()) leaves_into(v, out);
  } else {
    for (auto& v : t.list()) leaves_into(v, out);
  }
}

size_t count_leaves(const Tree& t) {
  if (t.is_leaf()) return 1;
  size_t n = 0;
  if (t.is_dict()) {
    for (auto& [k, v] : t.dict()) n += count_leaves(v);
  } else {
    for (auto& v : t.list()) n += count_leaves(v);
  }
  return n;
}

Tree rebuild(const Tree& t, const std::vector<array>& leaves, size_t& next) {
  if (t.is_leaf()) return Tree(leaves[next++]);
  if (t.is_dict()) {
    Tree::Dict d;
    for (auto& [k, v] : t.dict()) d.emplace(k, rebuild(v, leaves, next));
    return Tree(std::move(d));
  }
  Tree::List l;
  l.reserve(t.list().size());
  for (auto& v : t.list()) l.push_back(rebuild(v, leaves, next));
  return Tree(std::move(l));
}

// The first place where the structures of a and b differ, described in words.
std::optional<std::string> first_difference(const Tree& a, const Tree& b, const std::string& path) {
  if (a.is_leaf() != b.is_leaf() || a.is_dict() != b.is_dict()) {
    return fmt::format("at {}: {} vs {}", where(path), kind_name(a), kind_name(b));
  }
  if (a.is_leaf()) return std::nullopt;
  if (a.is_list()) {
    const auto &la = a.list(), &lb = b.list();
    if (la.size() != lb.size()) {
      return fmt::format("at {}: a list of length {} vs a list of length {}", where(path),
                         la.size(), lb.size());
    }
    for (size_t i = 0; i < la.size(); ++i) {
      if (auto d = first_difference(la[i], lb[i], join_path(path, std::to_string(i)))) return d;
    }
    return std::nullopt;
  }
  const auto &da = a.dict(), &db = b.dict();
  for (auto& [k, v] : da) {
    if (!db.count(k)) return fmt::format("at {}: key '{}' only in the first tree", where(path), k);
  }
  for (auto& [k, v] : db) {
    if (!da.count(k)) return fmt::format("at {}: key '{}' only in the second tree", where(path), k);
  }
  for (auto& [k, v] : da) {
    if (auto d = first_difference(v, db.at(k), join_path(path, k))) return d;
  }
  return std::nullopt;
}

void structure_into(const Tree& t, std::string& out) {
  if (t.is_leaf()) {
    out += "*";
  } else if (t.is_dict()) {
    out += "{";
    bool first = true;
    for (auto& [k, v] : t.dict()) {
      out += first ? "" : ", ";
      first = false;
      out += k + ": ";
      structure_into(v, out);
    }
    out += "}";
  } else {
    out += "[";
    for (size_t i = 0; i < t.list().size(); ++i) {
      out += i ? ", " : "";
      structure_into(t.list()[i], out);
    }
    out += "]";
  }
}

// Turns every dict whose keys are exactly "0".."n-1" into a list (bottom-up).
Tree lists_from_dicts(Tree t) {
  if (!t.is_dict()) return t;
  Tree::Dict& d = t.dict();
  for (auto& [k, v] : d) v = lists_from_dicts(std::move(v));
  if (d.empty()) return t;
  std::vector<Tree*> slots(d.size(), nullptr);
  for (auto& [k, v] : d) {
    auto idx = parse_index(k, d.size());
    if (!idx) return t;
    slots[*idx] = &v;  // keys are unique, so n valid indices cover 0..n-1
  }
  Tree::List l;
  l.reserve(slots.size());
  for (Tree* s : slots) l.push_back(std::move(*s));
  return Tree(std::move(l));
}

Tree map_path(const Tree& t, const std::string& prefix,
              const std::function<array(const std::string&, const array&)>& f) {
  if (t.is_leaf()) return Tree(f(prefix, t.leaf()));
  if (t.is_dict()) {
    Tree::Dict d;
    for (auto& [k, v] : t.dict()) d.emplace(k, map_path(v, join_path(prefix, k), f));
    return Tree(std::move(d));
  }
  Tree::List l;
  for (size_t i = 0; i < t.list().size(); ++i) {
    l.push_back(map_path(t.list()[i], join_path(prefix, std::to_string(i)), f));
  }
  return Tree(std::move(l));
}

Tree map_two(const Tree& a, const Tree& b,
             const std::function<array(const array&, const array&)>& f) {
  if (a.is_leaf()) return Tree(f(a.leaf(), b.leaf()));
  if (a.is_dict()) {
    Tree::Dict d;
    for (auto& [k, v] : a.dict()) d.emplace(k, map_two(v, b.dict().at(k), f));
    return Tree(std::move(d));
  }
  Tree::List l;
  for (size_t i = 0; i < a.list().size(); ++i) l.push_back(map_two(a.list()[i], b.list()[i], f));
  return Tree(std::move(l));
}

}  // namespace

// ------------------------------------------------------------- accessors

const array& Tree::leaf() const {
  if (!is_leaf()) {
    throw std::invalid_argument(
        fmt::format("[Tree::leaf] node is {}, not a leaf: {}", kind_name(*this), structure_str()));
  }
  return std::get<array>(node_);
}
array& Tree::leaf() {
  return const_cast<array&>(std::as_const(*this).leaf());
}

const Tree::Dict& Tree::dict() const {
  if (!is_dict()) {
    throw std::invalid_argument(
        fmt::format("[Tree::dict] node is {}, not a dict: {}", kind_name(*this), structure_str()));
  }
  return std::get<Dict>(node_);
}
Tree::Dict& Tree::dict() {
  return const_cast<Dict&>(std::as_const(*this).dict());
}

const Tree::List& Tree::list() const {
  if (!is_list()) {
    throw std::invalid_argument(
        fmt::format("[Tree::list] node is {}, not a list: {}", kind_name(*this), structure_str()));
  }
  return std::get<List>(node_);
}
Tree::List& Tree::list() {
  return const_cast<List&>(std::as_const(*this).list());
}

const Tree& Tree::operator[](const std::string& key) const {
  if (!is_dict()) {
    throw std::invalid_argument(
        fmt::format("[Tree::operator[]] key '{}' requested from {}", key, kind_name(*this)));
  }
  const Dict& d = std::get<Dict>(node_);
  auto it = d.find(key);
  if (it == d.end()) {
    throw std::invalid_argument(
        fmt::format("[Tree::operator[]] key '{}' not found (keys: {})", key, key_list(d)));
  }
  return it->second;
}

Tree& Tree::operator[](const std::string& key) {
  if (!is_dict()) {
    throw std::invalid_argument(
        fmt::format("[Tree::operator[]] key '{}' requested from {}", key, kind_name(*this)));
  }
  return std::get<Dict>(node_)[key];
}

const Tree& Tree::operator[](size_t i) const {
  if (!is_list()) {
    throw std::invalid_argument(
        fmt::format("[Tree::operator[]] position {} requested from {}", i, kind_name(*this)));
  }
  const List& l = std::get<List>(node_);
  if (i >= l.size()) {
    throw std::invalid_argument(fmt::format(
        "[Tree::operator[]] position {} is out of range for a list of length {}", i, l.size()));
  }
  return l[i];
}
Tree& Tree::operator[](size_t i) {
  return const_cast<Tree&>(std::as_const(*this)[i]);
}

size_t Tree::size() const {
  if (is_leaf()) return 1;
  return is_dict() ? std::get<Dict>(node_).size() : std::get<List>(node_).size();
}

const array& Tree::at(const std::string& path) const {
  std::string why;
  if (const array* r = find_leaf(*this, split_path(path), 0, "", why)) return *r;
  throw std::invalid_argument(fmt::format("[Tree::at] path '{}': {}", path, why));
}

bool Tree::contains(const std::string& path) const {
  std::string why;
  return find_leaf(*this, split_path(path), 0, "", why) != nullptr;
}

// ------------------------------------------------------------ flattening

std::vector<array> Tree::leaves() const {
  std::vector<array> out;
  leaves_into(*this, out);
  return out;
}

std::vector<std::string> Tree::paths() const {
  std::vector<std::string> out;
  for (auto& [p, a] : flatten()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, array>> Tree::flatten() const {
  std::vector<std::pair<std::string, array>> out;
  flatten_into(*this, "", out);
  return out;
}

Tree Tree::unflatten(const std::vector<array>& leaves) const {
  size_t n = count_leaves(*this);
  if (n != leaves.size()) {
    throw std::invalid_argument(
        fmt::format("[Tree::unflatten] the tree {} has {} leaves but {} arrays were given",
                    structure_str(), n, leaves.size()));
  }
  size_t next = 0;
  return rebuild(*this, leaves, next);
}

Tree Tree::from_flat(const std::vector<std::pair<std::string, array>>& items) {
  if (items.size() == 1 && items[0].first.empty()) return Tree(items[0].second);
  Tree root;
  for (auto& [path, value] : items) {
    std::vector<std::string> parts = split_path(path);
    if (parts.empty()) {
      throw std::invalid_argument(
          "[Tree::from_flat] the empty path (a root leaf) cannot be combined with other paths");
    }
    Tree* node = &root;
    std::string walked;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].empty()) {
        throw std::invalid_argument(
            fmt::format("[Tree::from_flat] path '{}' has an empty component", path));
      }
      walked = join_path(walked, parts[i]);
      Dict& d = node->dict();
      auto it = d.find(parts[i]);
      bool last = i + 1 == parts.size();
      if (it == d.end()) {
        it = d.emplace(parts[i], last ? Tree(value) : Tree()).first;
      } else if (last) {
        throw std::invalid_argument(
            it->second.is_leaf()
                ? fmt::format("[Tree::from_flat] duplicate path '{}'", path)
                : fmt::format("[Tree::from_flat] '{}' is a leaf but also a prefix of other paths",
                              path));
      } else if (it->second.is_leaf()) {
        throw std::invalid_argument(fmt::format(
            "[Tree::from_flat] path '{}' goes through '{}', which is itself a leaf", path, walked));
      }
      node = &it->second;
    }
  }
  return lists_from_dicts(std::move(root));
}

// ---------------------------------------------------------------- mapping

Tree Tree::map(const std::function<array(const array&)>& f) const {
  return map_path(*this, "", [&](const std::string&, const array& a) { return f(a); });
}

Tree Tree::map(const std::function<array(const array&, const array&)>& f, const Tree& a,
               const Tree& b) {
  if (auto diff = first_difference(a, b, "")) {
    throw std::invalid_argument(fmt::format(
        "[Tree::map] the trees have different structures: {} vs {} (first difference {})",
        a.structure_str(), b.structure_str(), *diff));
  }
  return map_two(a, b, f);
}

Tree Tree::map_with_path(const std::function<array(const std::string&, const array&)>& f) const {
  return map_path(*this, "", f);
}

bool Tree::same_structure(const Tree& other) const {
  return !first_difference(*this, other, "").has_value();
}

std::string Tree::structure_str() const {
  std::string out;
  structure_into(*this, out);
  return out;
}

void eval(const Tree& tree) {
  mfx::eval(tree.leaves());
}

}  // namespace mfx
