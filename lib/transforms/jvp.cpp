// Forward mode: trace f on fresh input nodes, then push tangents through the
// dependent part of the graph in topological order with each primitive's jvp.
#include <fmt/format.h>

#include "mfx/ops.h"
#include "mfx/transforms.h"
#include "transforms/trace.h"

namespace mfx {

std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& f,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (tangents.size() != primals.size()) {
    throw std::invalid_argument(
        fmt::format("[jvp] {} tangents given for {} primals", tangents.size(), primals.size()));
  }
  for (size_t i = 0; i < primals.size(); ++i) {
    if (!primals[i].valid() || !tangents[i].valid()) {
      throw std::invalid_argument(fmt::format("[jvp] primal or tangent {} is a null array", i));
    }
    if (!is_floating(primals[i].dtype())) {
      throw std::invalid_argument(fmt::format(
          "[jvp] cannot differentiate with respect to primal {} of dtype {} and shape {}", i,
          dtype_name(primals[i].dtype()), shape_str(primals[i].shape())));
    }
    if (tangents[i].shape() != primals[i].shape()) {
      throw std::invalid_argument(
          fmt::format("[jvp] tangent {} has shape {} but primal {} has shape {}", i,
                      shape_str(tangents[i].shape()), i, shape_str(primals[i].shape())));
    }
  }
  transforms::TraceScope scope;
  std::vector<array> inputs;
  for (auto& p : primals) inputs.push_back(transforms::trace_input(p));
  std::vector<array> outputs = f(inputs);

  auto graph = transforms::dependent_nodes(outputs, inputs);
  std::unordered_map<uintptr_t, array> tan;
  for (size_t i = 0; i < inputs.size(); ++i) {
    tan.emplace(inputs[i].id(), astype(tangents[i], primals[i].dtype()));
  }
  for (const array& node : graph.order) {
    std::vector<int> argnums = transforms::dependent_argnums(node, graph.depends);
    std::vector<array> in_tans;
    for (int a : argnums) in_tans.push_back(tan.at(node.inputs()[a].id()));
    std::vector<array> outs = node.outputs();
    std::vector<array> out_tans = node.primitive().jvp(node.inputs(), in_tans, argnums);
    if (out_tans.size() != outs.size()) {
      throw std::logic_error(fmt::format("[jvp] the {} rule returned {} tangents for {} outputs",
                                         node.primitive().name(), out_tans.size(), outs.size()));
    }
    for (size_t k = 0; k < outs.size(); ++k) tan.insert_or_assign(outs[k].id(), out_tans[k]);
  }
  std::vector<array> out_tangents;
  for (auto& o : outputs) {
    auto t = tan.find(o.id());
    out_tangents.push_back(t != tan.end() ? t->second : zeros_like(o));
  }
  return {outputs, out_tangents};
}

}  // namespace mfx
