// Graph simplification before planning: identity removal, structural CSE and
// dead-code elimination, in one forward pass plus one backward sweep; then
// broadcast scalar constants are stored as one element.
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "compiler/jit/graph.h"
#include "mfx/ops.h"
#include "primitives/elementwise.h"
#include "primitives/view.h"

namespace mfx::jit_detail {

namespace {

// True when the node returns its (single) input unchanged.
bool is_identity(const Graph& g, const Graph::Node& n) {
  if (n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  const auto& in = g.values[n.inputs[0]];
  const auto& out = g.values[n.outputs[0]];
  if (in.shape != out.shape || in.dtype != out.dtype) return false;
  Primitive* p = n.prim.get();
  if (dynamic_cast<Reshape*>(p) || dynamic_cast<Broadcast*>(p) || dynamic_cast<AsType*>(p) ||
      dynamic_cast<StopGradient*>(p) || dynamic_cast<TraceInput*>(p)) {
    return true;
  }
  if (auto* t = dynamic_cast<Transpose*>(p)) {
    for (size_t i = 0; i < t->axes().size(); ++i) {
      if (t->axes()[i] != static_cast<int>(i)) return false;
    }
    return true;
  }
  if (auto* s = dynamic_cast<Slice*>(p)) {
    return std::all_of(s->start().begin(), s->start().end(), [](int64_t v) { return v == 0; }) &&
           std::all_of(s->step().begin(), s->step().end(), [](int64_t v) { return v == 1; });
  }
  return false;
}

}  // namespace

Graph simplify(const Graph& g, SimplifyStats* stats) {
  SimplifyStats st;
  st.traced_nodes = static_cast<int>(g.nodes.size());
  st.constants = static_cast<int>(g.constants.size());
  // alias[v]: the value v stands for after removals and merges.
  std::vector<int> alias(g.values.size());
  std::iota(alias.begin(), alias.end(), 0);
  std::vector<Graph::Node> kept;
  // CSE buckets keyed by primitive name and canonical inputs.
  std::unordered_map<std::string, std::vector<size_t>> buckets;
  for (const auto& n0 : g.nodes) {
    Graph::Node n = n0;
    for (auto& v : n.inputs) v = alias[v];
    if (is_identity(g, n)) {
      alias[n.outputs[0]] = n.inputs[0];
      ++st.noops_removed;
      continue;
    }
    std::string key = n.prim->name();
    for (int v : n.inputs) key += "," + std::to_string(v);
    auto& bucket = buckets[key];
    bool merged = false;
    for (size_t k : bucket) {
      const auto& other = kept[k];
      if (other.inputs != n.inputs || other.outputs.size() != n.outputs.size()) continue;
      bool same_types = true;
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        const auto &a = g.values[other.outputs[o]], &b = g.values[n.outputs[o]];
        same_types = same_types && a.shape == b.shape && a.dtype == b.dtype;
      }
      if (!same_types || !other.prim->is_equivalent(*n.prim)) continue;
      for (size_t o = 0; o < n.outputs.size(); ++o) alias[n.outputs[o]] = other.outputs[o];
      merged = true;
      ++st.cse_merged;
      break;
    }
    if (merged) continue;
    bucket.push_back(kept.size());
    kept.push_back(std::move(n));
  }

  Graph out;
  out.values = g.values;
  out.inputs = g.inputs;
  for (int v : g.outputs) out.outputs.push_back(alias[v]);
  // Dead-code elimination: keep nodes reachable backwards from the outputs.
  std::vector<char> live(g.values.size(), 0);
  for (int v : out.outputs) live[v] = 1;
  std::vector<char> keep(kept.size(), 0);
  for (size_t i = kept.size(); i-- > 0;) {
    bool used = false;
    for (int v : kept[i].outputs) used = used || live[v];
    if (!used) {
      ++st.dead_removed;
      continue;
    }
    keep[i] = 1;
    for (int v : kept[i].inputs) live[v] = 1;
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    if (keep[i]) out.nodes.push_back(std::move(kept[i]));
  }
  // A constant that is one broadcast element (zeros_like, full, a scalar
  // operand) becomes that element plus a Broadcast node: kernels then read it
  // by index arithmetic instead of receiving a materialised copy of the whole
  // shape on every call.
  std::vector<Graph::Node> broadcasts;
  for (auto& c : g.constants) {
    if (!live[c.value]) continue;
    const array& a = c.data;
    if (a.size() > 1 && a.data_size() == 1) {
      const Shape ones(a.shape().size(), 1);
      array one = slice(a, Shape(a.shape().size(), 0), ones);
      one.eval();
      int s = out.add_value(ones, a.dtype());
      out.constants.push_back({s, one});
      broadcasts.push_back({std::make_shared<Broadcast>(a.shape()), {s}, {c.value}});
    } else {
      out.constants.push_back(c);
    }
  }
  out.nodes.insert(out.nodes.begin(), broadcasts.begin(), broadcasts.end());
  if (stats) *stats = st;
  return out;
}

}  // namespace mfx::jit_detail
