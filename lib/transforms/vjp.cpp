// Reverse mode: trace f on fresh input nodes, then walk the dependent part of
// the graph backwards, calling each primitive's vjp rule and summing the
// cotangents that reach a node along several paths. Walks stop at
// stop_gradient nodes.
#include <fmt/format.h>

#include "mfx/ops.h"
#include "mfx/transforms.h"
#include "primitives/elementwise.h"
#include "transforms/trace.h"

namespace mfx {

namespace {

void check_primals(const std::vector<array>& primals, const char* op) {
  for (size_t i = 0; i < primals.size(); ++i) {
    if (!primals[i].valid())
      throw std::invalid_argument(fmt::format("[{}] primal {} is a null array", op, i));
    if (!is_floating(primals[i].dtype())) {
      throw std::invalid_argument(fmt::format(
          "[{}] cannot differentiate with respect to primal {} of dtype {} and shape {} "
          "(only floating arrays have gradients)",
          op, i, dtype_name(primals[i].dtype()), shape_str(primals[i].shape())));
    }
  }
}

void check_like(const array& ct, const array& like, const char* what, size_t i, const char* op) {
  if (!ct.valid() || ct.shape() != like.shape()) {
    throw std::invalid_argument(
        fmt::format("[{}] {} {} has shape {} but its output has shape {}", op, what, i,
                    ct.valid() ? shape_str(ct.shape()) : "null", shape_str(like.shape())));
  }
}

}  // namespace

namespace detail {
void check_scalar_loss(const array& loss, const char* transform) {
  if (!loss.valid() || loss.size() != 1 || !is_floating(loss.dtype())) {
    throw std::invalid_argument(fmt::format(
        "[{}] the function must return a one-element floating array, got {} of shape {}", transform,
        loss.valid() ? std::string(dtype_name(loss.dtype())) : "null",
        loss.valid() ? shape_str(loss.shape()) : "()"));
  }
}
}  // namespace detail

std::pair<std::vector<array>, std::vector<array>> vjp(
    const ArrayFn& f, const std::vector<array>& primals,
    const std::function<std::vector<array>(const std::vector<array>&)>& make_cotangents) {
  check_primals(primals, "vjp");
  transforms::TraceScope scope;
  std::vector<array> inputs;
  for (auto& p : primals) inputs.push_back(transforms::trace_input(p));
  std::vector<array> outputs = f(inputs);
  std::vector<array> cts = make_cotangents(outputs);
  if (cts.size() != outputs.size()) {
    throw std::invalid_argument(
        fmt::format("[vjp] {} cotangents given for {} outputs", cts.size(), outputs.size()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) check_like(cts[i], outputs[i], "cotangent", i, "vjp");

  auto graph = transforms::dependent_nodes(outputs, inputs);
  std::unordered_map<uintptr_t, array> cot;
  auto accumulate = [&](const array& node, const array& c) {
    auto it = cot.find(node.id());
    if (it == cot.end()) {
      cot.emplace(node.id(), astype(c, node.dtype()));
    } else {
      it->second = it->second + astype(c, node.dtype());
    }
  };
  for (size_t i = 0; i < outputs.size(); ++i) accumulate(outputs[i], cts[i]);

  for (auto it = graph.order.rbegin(); it != graph.order.rend(); ++it) {
    const array& node = *it;
    std::vector<array> outs = node.outputs();
    std::vector<array> out_cts;
    bool any = false;
    for (auto& o : outs) {
      auto c = cot.find(o.id());
      if (c != cot.end()) {
        out_cts.push_back(c->second);
        any = true;
      } else {
        out_cts.push_back(zeros_like(o));
      }
    }
    if (!any) continue;  // no output of this node reaches f's outputs with a cotangent
    // Nothing flows through stop_gradient: its input gets no cotangent here,
    // so the graph below it is not differentiated (against zeros) on its behalf.
    if (dynamic_cast<const StopGradient*>(&node.primitive())) {
      for (auto& o : outs) cot.erase(o.id());
      continue;
    }
    std::vector<int> argnums = transforms::dependent_argnums(node, graph.depends);
    std::vector<array> in_cts = node.primitive().vjp(node.inputs(), out_cts, argnums, outs);
    if (in_cts.size() != argnums.size()) {
      throw std::logic_error(fmt::format("[vjp] the {} rule returned {} cotangents for {} inputs",
                                         node.primitive().name(), in_cts.size(), argnums.size()));
    }
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = node.inputs()[argnums[k]];
      if (in_cts[k].shape() != in.shape()) {
        throw std::logic_error(fmt::format(
            "[vjp] the {} rule returned shape {} for input {} of shape {}", node.primitive().name(),
            shape_str(in_cts[k].shape()), argnums[k], shape_str(in.shape())));
      }
      accumulate(in, in_cts[k]);
    }
    for (auto& o : outs) cot.erase(o.id());  // consumed: free them early
  }

  std::vector<array> grads;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto c = cot.find(inputs[i].id());
    grads.push_back(c != cot.end() ? c->second : zeros_like(primals[i]));
  }
  return {outputs, grads};
}

std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& f,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  return vjp(f, primals, [&](const std::vector<array>&) { return cotangents; });
}

}  // namespace mfx
