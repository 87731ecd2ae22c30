// Generated one-op kernels: the default GPU route of a primitive (see one_op.h).
#include "compiler/gpu/one_op.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <typeinfo>

#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/plan.h"
#include "compiler/kernel_builder.h"
#include "cuda/range_check.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "primitives/elementwise.h"
#include "primitives/reduction.h"
#include "primitives/view.h"

namespace mfx::gpu_detail {

using compiler::Kernel;
using compiler::Target;

namespace {

// Plans p as a one-node graph; with `consume`, an identity cast reads p's
// single output, so that producers the planner only inlines into their
// consumers (gathers, pads, views) become the kernel's indexed loads.
std::optional<OneOpKernel> plan_one_op(const std::shared_ptr<Primitive>& p,
                                       const std::vector<array>& inputs,
                                       const std::vector<array>& outputs, bool consume) {
  jit_detail::Graph g;
  jit_detail::Graph::Node node{p, {}, {}};
  for (auto& in : inputs) {
    g.inputs.push_back(g.add_value(in.shape(), in.dtype()));
    node.inputs.push_back(g.inputs.back());
  }
  for (auto& out : outputs) node.outputs.push_back(g.add_value(out.shape(), out.dtype()));
  g.outputs = node.outputs;
  g.nodes.push_back(node);
  if (consume) {
    const Dtype dt = outputs[0].dtype();
    int copy = g.add_value(outputs[0].shape(), dt);
    g.nodes.push_back({std::make_shared<AsType>(dt), {node.outputs[0]}, {copy}});
    g.outputs = {copy};
  }
  JitOptions options;
  options.name = "eager_" + p->name();
  options.fuse = true;
  jit_detail::Plan plan = jit_detail::make_plan(g, options);
  if (plan.program.nodes.size() != 1) return std::nullopt;
  const auto& step = plan.program.nodes[0];
  auto* fused = dynamic_cast<jit_detail::FusedKernel*>(step.prim.get());
  if (!fused || step.outputs != g.outputs) return std::nullopt;
  // Graph inputs were added first, so a value id is the input's position.
  return OneOpKernel{fused->kernel(), step.inputs, fused->range_checks()};
}

// argmax over `axis` as one fused kernel: m = max(x), hit = x == m (or NaN,
// which max propagates: the first NaN wins), then the least index that hits.
// The indices and the "no hit" value n come in as extra inputs because the
// planner has no iota.
std::optional<OneOpKernel> plan_arg_reduce(const ArgReduce& r, const std::vector<array>& inputs,
                                           const std::vector<array>& outputs) {
  const Shape& xs = inputs[0].shape();
  const Dtype xd = inputs[0].dtype(), od = outputs[0].dtype();
  const int axis = r.axis();
  if (xd == bool_ || xs[axis] == 0) return std::nullopt;
  Shape kept = xs, ramp(xs.size(), 1);
  kept[axis] = 1;
  ramp[axis] = xs[axis];
  jit_detail::Graph g;
  g.inputs = {g.add_value(xs, xd), g.add_value(ramp, od), g.add_value(Shape(xs.size(), 1), od)};
  auto node = [&](std::shared_ptr<Primitive> p, std::vector<int> in, const Shape& s, Dtype d) {
    int v = g.add_value(s, d);
    g.nodes.push_back({std::move(p), std::move(in), {v}});
    return v;
  };
  const bool max = r.op() == ArgReduceOp::ArgMax;
  int m = node(
      std::make_shared<Reduce>(max ? ReduceOp::Max : ReduceOp::Min, std::vector<int>{axis}, xd),
      {0}, kept, xd);
  int hit = node(std::make_shared<Binary>(BinaryOp::Equal),
                 {0, node(std::make_shared<Broadcast>(xs), {m}, xs, xd)}, xs, bool_);
  if (is_floating(xd)) {
    int nan = node(std::make_shared<Unary>(UnaryOp::IsNan), {0}, xs, bool_);
    hit = node(std::make_shared<Binary>(BinaryOp::LogicalOr), {hit, nan}, xs, bool_);
  }
  int idx = node(std::make_shared<Select>(),
                 {hit, node(std::make_shared<Broadcast>(xs), {1}, xs, od),
                  node(std::make_shared<Broadcast>(xs), {2}, xs, od)},
                 xs, od);
  g.outputs = {
      node(std::make_shared<Reduce>(ReduceOp::Min, std::vector<int>{axis}, od), {idx}, kept, od)};
  JitOptions options;
  options.name = "eager_" + r.name();
  jit_detail::Plan plan = jit_detail::make_plan(g, options);
  if (plan.program.nodes.size() != 1) return std::nullopt;
  const auto& step = plan.program.nodes[0];
  auto* fused = dynamic_cast<jit_detail::FusedKernel*>(step.prim.get());
  if (!fused || step.outputs != g.outputs) return std::nullopt;
  std::vector<double> ramp_values(static_cast<size_t>(xs[axis]));
  for (size_t i = 0; i < ramp_values.size(); ++i) ramp_values[i] = static_cast<double>(i);
  std::vector<array> extra = {
      array(ramp_values, ramp, od),
      array(std::vector<double>{static_cast<double>(xs[axis])}, Shape(xs.size(), 1), od)};
  return OneOpKernel{fused->kernel(), step.inputs, fused->range_checks(), std::move(extra)};
}

}  // namespace

std::optional<OneOpKernel> build_one_op_kernel(const std::shared_ptr<Primitive>& p,
                                               const std::vector<array>& inputs,
                                               const std::vector<array>& outputs) {
  if (auto* r = dynamic_cast<const ArgReduce*>(p.get()))
    return plan_arg_reduce(*r, inputs, outputs);
  if (auto k = plan_one_op(p, inputs, outputs, false)) return k;
  if (outputs.size() == 1) return plan_one_op(p, inputs, outputs, true);
  return std::nullopt;
}

int64_t strided_base(const Shape& shape, const Strides& strides) {
  int64_t base = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (strides[i] < 0 && shape[i] > 0) base += (shape[i] - 1) * strides[i];
  }
  return base;
}

Kernel strided_copy_kernel(Dtype dtype, const Shape& shape, const Strides& strides) {
  Kernel k;
  k.name = fmt::format("copy_{}", dtype_name(dtype));
  int64_t n = 1, span = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    n *= shape[i];
    span += (shape[i] - 1) * std::abs(strides[i]);
  }
  k.args = {{dtype, span, false}, {dtype, n, true}};
  k.grid = shape;
  k.phases.emplace_back();
  compiler::PhaseBuilder b(k.phases.back());
  std::vector<int> idx;
  for (size_t i = 0; i < shape.size(); ++i) idx.push_back(b.grid_index(static_cast<int>(i)));
  int src = b.linear_index(idx, strides, -strided_base(shape, strides));
  int dst = b.linear_index(idx, row_major_strides(shape));
  b.store(1, dst, b.load(0, dtype, src));
  return k;
}

array dense_copy(const array& x, Target target) {
  if (x.flags().row_contiguous) return x;
  const Device device = x.buffer()->device;
  array out = array::empty(x.shape(), x.dtype(), device);
  if (x.size() == 0) return out;
  Kernel k = strided_copy_kernel(x.dtype(), x.shape(), x.strides());
  char* base = static_cast<char*>(x.raw_data()) +
               strided_base(x.shape(), x.strides()) * static_cast<int64_t>(x.itemsize());
  launch(k, {base, out.raw_data()}, target, device);
  return out;
}

namespace {

// Kernels by signature; parameters are told apart with is_equivalent.
struct CacheEntry {
  std::shared_ptr<Primitive> prim;
  std::optional<OneOpKernel> kernel;
};

std::string signature(const Primitive& p, const std::vector<array>& inputs,
                      const std::vector<array>& outputs) {
  std::string s = fmt::format("{}|{}", typeid(p).name(), p.name());
  for (auto* list : {&inputs, &outputs}) {
    s += "|";
    for (auto& a : *list) s += fmt::format("{}{};", dtype_name(a.dtype()), shape_str(a.shape()));
  }
  return s;
}

const std::optional<OneOpKernel>& cached_kernel(Primitive& p, const std::vector<array>& inputs,
                                                const std::vector<array>& outputs) {
  static std::mutex mutex;
  static std::multimap<std::string, CacheEntry> cache;
  const std::string sig = signature(p, inputs, outputs);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto [lo, hi] = cache.equal_range(sig);
    for (auto it = lo; it != hi; ++it) {
      if (it->second.prim.get() == &p || it->second.prim->is_equivalent(p))
        return it->second.kernel;
    }
  }
  // Planned outside the lock (it may compile); a racing duplicate is harmless.
  auto prim = p.shared_from_this();
  auto kernel = build_one_op_kernel(prim, inputs, outputs);
  if (!kernel) {
    // Not cached: such primitives (jit functions, custom rules) may hold
    // large constants, and asking again only happens on an error path.
    static const std::optional<OneOpKernel> none;
    return none;
  }
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.emplace(sig, CacheEntry{std::move(prim), std::move(kernel)});
  return it->second.kernel;
}

}  // namespace

void check_indices(const array& idx, int64_t size, const std::string& op) {
  for (auto v : idx.to_vector<int64_t>()) {
    if (v < -size || v >= size) {
      throw std::invalid_argument(
          fmt::format("[{}] index {} is out of range for an axis with size {}", op, v, size));
    }
  }
}

array checked_indices(const array& idx, int64_t size, const std::string& op,
                      compiler::Target target, Device device) {
  if (target == compiler::Target::Cpu || !cuda::range_check_on_device(idx.dtype()) ||
      !cuda::range_check_kernels_built()) {
    check_indices(idx, size, op);
    return idx;
  }
  array dense = dense_copy(idx, target);
  array safe = array::empty(dense.shape(), dense.dtype(), device);
  cuda::range_check(dense.dtype(), reinterpret_cast<cuda::CUdeviceptr>(dense.raw_data()),
                    reinterpret_cast<cuda::CUdeviceptr>(safe.raw_data()), dense.size(), size, op,
                    device.index, cuda::current_stream(device.index));
  return safe;
}

bool has_one_op_kernel(Primitive& p, const std::vector<array>& inputs,
                       const std::vector<array>& outputs) {
  return cached_kernel(p, inputs, outputs).has_value();
}

void eval_one_op(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 Target target, Device device) {
  const auto& k = cached_kernel(p, inputs, outputs);
  if (!k) throw std::runtime_error(fmt::format("[{}] has no GPU kernel yet", p.name()));
  std::vector<array> all = inputs;
  for (auto& extra : k->extra_inputs) all.push_back(to_device(extra, device));
  std::vector<array> dense;
  std::vector<void*> buffers;
  for (int i : k->arg_inputs) {
    dense.push_back(dense_copy(all[i], target));
    buffers.push_back(dense.back().raw_data());
  }
  for (auto& [arg, size] : k->range_checks) {
    // to_vector copies GPU indices to the host: a synchronisation, like eager CPU checks.
    check_indices(dense[arg], size, p.name());
  }
  for (auto& out : outputs) {
    out.allocate(device);
    buffers.push_back(out.raw_data());
  }
  launch(k->kernel, buffers, target, device);
}

}  // namespace mfx::gpu_detail
