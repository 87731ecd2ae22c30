// Vectorising map: trace f once on one slice of each mapped argument, then
// rebuild the traced graph op by op with each primitive's batching rule,
// tracking where the batch axis of every value sits.
#include <fmt/format.h>

#include <unordered_map>

#include "mfx/ops.h"
#include "mfx/transforms.h"
#include "transforms/batching.h"
#include "transforms/trace.h"

namespace mfx {

namespace {

// Normalises an axis for a rank-`ndim` array; nullopt -> -1 (not mapped).
int normalize(const std::optional<int>& axis, int ndim, const char* what, size_t i,
              const Shape& shape) {
  if (!axis) return -1;
  int a = *axis < 0 ? *axis + ndim : *axis;
  if (a < 0 || a >= ndim) {
    throw std::invalid_argument(fmt::format(
        "[vmap] {}[{}] = {} is out of range for {} {} of shape {}", what, i, *axis,
        std::string_view(what) == "in_axes" ? "argument" : "result", i, shape_str(shape)));
  }
  return a;
}

VmapAxes expand_axes(const VmapAxes& axes, size_t n, const char* what) {
  if (axes.empty()) return VmapAxes(n, 0);
  if (axes.size() != n) {
    throw std::invalid_argument(
        fmt::format("[vmap] {} has {} entries for {} {}", what, axes.size(), n,
                    std::string_view(what) == "in_axes" ? "arguments" : "results"));
  }
  return axes;
}

std::vector<array> vmap_apply(const ArrayFn& f, const std::vector<array>& args,
                              const VmapAxes& in_axes_opt, const VmapAxes& out_axes_opt) {
  VmapAxes in_axes = expand_axes(in_axes_opt, args.size(), "in_axes");
  std::vector<int> axes(args.size());
  int64_t batch = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].valid())
      throw std::invalid_argument(fmt::format("[vmap] argument {} is a null array", i));
    axes[i] = normalize(in_axes[i], args[i].ndim(), "in_axes", i, args[i].shape());
    if (axes[i] < 0) continue;
    int64_t n = args[i].shape()[axes[i]];
    if (batch >= 0 && n != batch) {
      throw std::invalid_argument(
          fmt::format("[vmap] mapped arguments disagree on the batch size: argument {} of shape {} "
                      "has {} along "
                      "axis {}, an earlier one has {}",
                      i, shape_str(args[i].shape()), n, axes[i], batch));
    }
    batch = n;
  }
  if (batch < 0)
    throw std::invalid_argument("[vmap] in_axes maps no argument (all are std::nullopt)");
  if (batch == 0) throw std::invalid_argument("[vmap] cannot map over an axis of size 0");

  transforms::TraceScope scope;
  // Mapped arguments enter f as one slice; the slice is never evaluated unless
  // f evaluates it, and the batched graph replaces it.
  std::vector<array> traced, traced_inputs;
  std::unordered_map<uintptr_t, std::pair<array, int>> batched;
  for (size_t i = 0; i < args.size(); ++i) {
    if (axes[i] < 0) {
      traced.push_back(args[i]);
      continue;
    }
    array t = transforms::trace_input(batching::batch_element(args[i], axes[i], 0));
    batched.emplace(t.id(), std::make_pair(args[i], axes[i]));
    traced.push_back(t);
    traced_inputs.push_back(t);
  }
  std::vector<array> outputs = f(traced);
  VmapAxes out_axes = expand_axes(out_axes_opt, outputs.size(), "out_axes");

  auto graph = transforms::dependent_nodes(outputs, traced_inputs);
  for (const array& node : graph.order) {
    std::vector<array> ins;
    std::vector<int> in_ax;
    for (auto& in : node.inputs()) {
      auto it = batched.find(in.id());
      if (it != batched.end()) {
        ins.push_back(it->second.first);
        in_ax.push_back(it->second.second);
      } else {
        ins.push_back(in);
        in_ax.push_back(-1);
      }
    }
    std::vector<array> outs = node.outputs();
    auto [bouts, bax] = node.primitive().vmap(ins, in_ax, outs);
    if (bouts.size() != outs.size() || bax.size() != outs.size()) {
      throw std::logic_error(fmt::format("[vmap] the {} rule returned {} outputs for {}",
                                         node.primitive().name(), bouts.size(), outs.size()));
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      if (bax[k] < 0) {
        batched.emplace(outs[k].id(),
                        std::make_pair(batching::to_front_broadcast(bouts[k], -1, batch), 0));
        continue;
      }
      Shape expect = outs[k].shape();
      expect.insert(expect.begin() + bax[k], batch);
      if (bouts[k].shape() != expect || bouts[k].dtype() != outs[k].dtype()) {
        throw std::logic_error(fmt::format(
            "[vmap] the {} rule returned {} {} with batch axis {} for output {} of {} {}",
            node.primitive().name(), dtype_name(bouts[k].dtype()), shape_str(bouts[k].shape()),
            bax[k], k, dtype_name(outs[k].dtype()), shape_str(outs[k].shape())));
      }
      batched.emplace(outs[k].id(), std::make_pair(bouts[k], bax[k]));
    }
  }

  std::vector<array> results;
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto it = batched.find(outputs[i].id());
    if (!out_axes[i]) {
      if (it != batched.end()) {
        throw std::invalid_argument(fmt::format(
            "[vmap] result {} (shape {}) depends on a mapped argument but out_axes[{}] is "
            "std::nullopt",
            i, shape_str(outputs[i].shape()), i));
      }
      results.push_back(outputs[i]);
      continue;
    }
    int dest = normalize(out_axes[i], outputs[i].ndim() + 1, "out_axes", i, outputs[i].shape());
    if (it == batched.end()) {
      Shape s = outputs[i].shape();
      s.insert(s.begin() + dest, batch);
      results.push_back(broadcast_to(expand_dims(outputs[i], dest), s));
    } else {
      auto& [value, axis] = it->second;
      results.push_back(axis == dest ? value : moveaxis(value, axis, dest));
    }
  }
  return results;
}

}  // namespace

ArrayFn vmap(ArrayFn f, VmapAxes in_axes, VmapAxes out_axes) {
  return [f = std::move(f), in_axes = std::move(in_axes), out_axes = std::move(out_axes)](
             const std::vector<array>& args) { return vmap_apply(f, args, in_axes, out_axes); };
}

std::function<array(const array&)> vmap(std::function<array(const array&)> f,
                                        std::optional<int> in_axis, std::optional<int> out_axis) {
  return [f = std::move(f), in_axis, out_axis](const array& x) {
    ArrayFn g = [&f](const std::vector<array>& a) { return std::vector<array>{f(a[0])}; };
    return vmap_apply(g, {x}, {in_axis}, {out_axis})[0];
  };
}

}  // namespace mfx
