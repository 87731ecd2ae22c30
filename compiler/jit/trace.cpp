// Tracing a function into a Graph, and replaying a Graph on arrays.
#include <fmt/format.h>

#include <unordered_map>

#include "compiler/jit/graph.h"
#include "mfx/ops.h"
#include "transforms/trace.h"

namespace mfx::jit_detail {

namespace {

// An argument of a function being traced: it has a shape and a dtype but no
// value, so evaluating it (or anything computed from it) is an error.
class Placeholder : public Primitive {
 public:
  explicit Placeholder(std::string fn) : fn_(std::move(fn)) {}
  std::string name() const override { return "Placeholder"; }
  void eval_cpu(const std::vector<array>&, std::vector<array>& out) override {
    throw std::invalid_argument(fmt::format(
        "[jit] {} evaluated a value of shape {} that depends on its arguments while being traced "
        "(eval/item/data inside a jitted function); keep data-dependent host logic outside jit",
        fn_, shape_str(out[0].shape())));
  }

 private:
  std::string fn_;
};

}  // namespace

Graph trace(const ArrayFn& f, const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes,
            const std::string& name) {
  Graph g;
  std::vector<array> args;
  std::unordered_map<uintptr_t, int> ids;
  for (size_t i = 0; i < shapes.size(); ++i) {
    args.emplace_back(shapes[i], dtypes[i], std::make_shared<Placeholder>(name),
                      std::vector<array>{});
    int v = g.add_value(shapes[i], dtypes[i]);
    g.inputs.push_back(v);
    ids.emplace(args.back().id(), v);
  }
  std::vector<array> outs;
  {
    // Keep graph edges of anything f evaluates on the way.
    transforms::TraceScope scope;
    outs = f(args);
  }
  auto value_of = [&](const array& a) {
    auto it = ids.find(a.id());
    if (it != ids.end()) return it->second;
    // Independent of the arguments: a constant, evaluated once now.
    a.eval();
    int v = g.add_value(a.shape(), a.dtype());
    g.constants.push_back({v, a});
    ids.emplace(a.id(), v);
    return v;
  };
  auto dependent = transforms::dependent_nodes(outs, args);
  for (const array& node : dependent.order) {
    Graph::Node n;
    n.prim = node.primitive_ptr();
    for (auto& in : node.inputs()) n.inputs.push_back(value_of(in));
    for (auto& o : node.outputs()) {
      int v = g.add_value(o.shape(), o.dtype());
      ids.emplace(o.id(), v);
      n.outputs.push_back(v);
    }
    g.nodes.push_back(std::move(n));
  }
  for (auto& o : outs) {
    if (!o.valid())
      throw std::invalid_argument(fmt::format("[jit] {} returned a null array", name));
    g.outputs.push_back(value_of(o));
  }
  return g;
}

std::vector<array> replay(const Graph& g, const std::vector<array>& inputs) {
  std::vector<array> constants;
  for (auto& c : g.constants) constants.push_back(c.data);
  return replay(g, inputs, constants);
}

std::vector<array> replay(
    const Graph& g, const std::vector<array>& inputs, const std::vector<array>& constants,
    const std::function<void(size_t node, std::vector<array>& outputs)>& after_node) {
  std::vector<array> vals(g.values.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) vals[g.inputs[i]] = inputs[i];
  for (size_t i = 0; i < g.constants.size(); ++i) vals[g.constants[i].value] = constants[i];
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const auto& n = g.nodes[k];
    std::vector<array> ins;
    for (int v : n.inputs) {
      if (!vals[v].valid()) {
        throw std::logic_error(
            fmt::format("[jit] internal: {} reads value {} before it is made", n.prim->name(), v));
      }
      ins.push_back(vals[v]);
    }
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (int v : n.outputs) {
      shapes.push_back(g.values[v].shape);
      dtypes.push_back(g.values[v].dtype);
    }
    auto outs = array::make_arrays(shapes, dtypes, n.prim, std::move(ins));
    if (after_node) after_node(k, outs);
    for (size_t o = 0; o < outs.size(); ++o) vals[n.outputs[o]] = std::move(outs[o]);
  }
  std::vector<array> res;
  for (int v : g.outputs) {
    if (!vals[v].valid()) {
      throw std::logic_error(fmt::format("[jit] internal: output value {} is never made", v));
    }
    res.push_back(vals[v]);
  }
  return res;
}

}  // namespace mfx::jit_detail
