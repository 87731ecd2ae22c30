#include "transforms/trace.h"

#include <unordered_set>

#include "mfx/ops.h"
#include "primitives/view.h"

namespace mfx {

// TraceInput (primitives/view.h): the identity, in every rule.
void TraceInput::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  out[0].set_view(in[0], in[0].strides(), 0, in[0].data_size(), in[0].flags());
}
std::vector<array> TraceInput::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                   const std::vector<int>&, const std::vector<array>&) {
  return {cotangents[0]};
}
std::vector<array> TraceInput::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                   const std::vector<int>&) {
  return {tangents[0]};
}
std::pair<std::vector<array>, std::vector<int>> TraceInput::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes,
                                                                 const std::vector<array>&) {
  return {{inputs[0]}, {axes[0]}};
}

}  // namespace mfx

namespace mfx::transforms {

namespace {

int& depth() {
  static thread_local int d = 0;
  return d;
}

}  // namespace

bool tracing() {
  return depth() > 0;
}
TraceScope::TraceScope() {
  ++depth();
}
TraceScope::~TraceScope() {
  --depth();
}

array trace_input(const array& x) {
  return array(x.shape(), x.dtype(), std::make_shared<TraceInput>(), {x});
}

DependentGraph dependent_nodes(const std::vector<array>& outputs,
                               const std::vector<array>& inputs) {
  std::unordered_set<uintptr_t> input_ids;
  for (auto& x : inputs) input_ids.insert(x.id());
  DependentGraph g;
  auto& depends = g.depends;
  auto& order = g.order;
  // Iterative post-order DFS: a node is finished once all inputs are.
  std::vector<std::pair<array, size_t>> stack;
  for (auto& root : outputs) {
    if (depends.count(root.id())) continue;
    stack.emplace_back(root, 0);
    depends[root.id()] = false;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      bool is_input = input_ids.count(node.id()) > 0;
      if (!is_input && next < node.inputs().size()) {
        array in = node.inputs()[next++];
        if (!depends.count(in.id())) {
          depends[in.id()] = false;
          stack.emplace_back(std::move(in), 0);
        }
        continue;
      }
      array done = std::move(node);
      stack.pop_back();
      bool dep = is_input;
      if (!is_input) {
        for (auto& in : done.inputs()) dep = dep || depends[in.id()];
      }
      depends[done.id()] = dep;
      if (dep && !is_input) {
        // Siblings share one primitive: record the group once.
        bool seen_sibling = false;
        for (auto& s : done.outputs()) {
          if (s.id() != done.id() && depends.count(s.id()) && depends[s.id()]) seen_sibling = true;
        }
        for (auto& s : done.outputs()) depends[s.id()] = true;
        if (!seen_sibling) order.push_back(done);
      }
    }
  }
  return g;
}

std::vector<int> dependent_argnums(const array& node,
                                   const std::unordered_map<uintptr_t, bool>& dependent) {
  std::vector<int> argnums;
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    auto it = dependent.find(node.inputs()[i].id());
    if (it != dependent.end() && it->second) argnums.push_back(static_cast<int>(i));
  }
  return argnums;
}

}  // namespace mfx::transforms
