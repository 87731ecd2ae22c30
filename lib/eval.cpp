// The graph scheduler: topological order without recursion, then one kernel
// call per primitive; evaluated nodes drop their inputs.
#include <fmt/format.h>

#include <chrono>
#include <unordered_set>

#include "mfx/array.h"
#include "mfx/gpu.h"
#include "eager_profile.h"
#include "eval_when_empty.h"
#include "mfx/primitive.h"
#include "transforms/trace.h"

namespace mfx {

namespace {

// Where a primitive with evaluated inputs runs (the rules are in mfx/gpu.h).
// Returns the GPU when it must run there; `moved` then receives the inputs
// with host ones copied to that GPU.
bool place_on_gpu(const Primitive& p, const std::vector<array>& inputs, std::vector<array>& moved,
                  Device& gpu) {
  const array* on_gpu = nullptr;
  for (auto& in : inputs) {
    if (in.on_gpu()) {
      if (on_gpu && on_gpu->buffer()->device != in.buffer()->device) {
        throw std::invalid_argument(fmt::format(
            "[{}] inputs live on different devices: {} on {} and {} on {}; copy them with "
            "mfx::to_device first",
            p.name(), shape_str(on_gpu->shape()), on_gpu->device().str(), shape_str(in.shape()),
            in.device().str()));
      }
      on_gpu = &in;
    }
  }
  const bool gpu_default = p.device().type == Device::Type::gpu;
  if (!on_gpu && !gpu_default) return false;
  gpu = on_gpu ? on_gpu->buffer()->device : p.device();
  moved.clear();
  for (auto& in : inputs) {
    if (in.on_gpu()) {
      moved.push_back(in);
    } else if (gpu_default || in.size() == 1) {
      moved.push_back(to_device(in, gpu));
    } else {
      throw std::invalid_argument(fmt::format(
          "[{}] inputs live on different devices: {} on {} and {} on cpu:0; copy them with "
          "mfx::to_device first",
          p.name(), shape_str(on_gpu->shape()), gpu.str(), shape_str(in.shape())));
    }
  }
  return true;
}

}  // namespace

void eval(std::vector<array> roots) {
  std::vector<array> tape;
  std::unordered_set<uintptr_t> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& r : roots) {
    if (!r.valid()) throw std::invalid_argument("[eval] null array handle");
    if (r.is_evaluated() || !seen.insert(r.id()).second) continue;
    stack.emplace_back(r, 0);
    while (!stack.empty()) {
      auto& top = stack.back();
      if (top.second < top.first.inputs().size()) {
        array in = top.first.inputs()[top.second++];
        if (!in.is_evaluated() && seen.insert(in.id()).second) stack.emplace_back(std::move(in), 0);
      } else {
        tape.push_back(std::move(top.first));
        stack.pop_back();
      }
    }
  }
  std::vector<array> moved;
  Device gpu;
  const bool profiling = detail::eager_profile_rows() > 0;
  for (auto& a : tape) {
    if (a.is_evaluated()) {
      a = array();
      continue;  // a sibling's kernel produced it already
    }
    if (!a.has_primitive()) {
      throw std::logic_error("[eval] array has neither data nor a primitive");
    }
    std::vector<array> outs = a.outputs();
    Primitive& p = a.primitive();
    const auto t0 = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    if (!place_on_gpu(p, a.inputs(), moved, gpu)) {
      // Nothing to compute: kernels that size scratch from the other dims
      // (a sort axis of 2^62 beside a zero dim) must not run.
      bool empty = dynamic_cast<EvalWhenEmpty*>(&p) == nullptr;
      for (auto& o : outs) empty = empty && o.size() == 0;
      try {
        if (empty) {
          for (auto& o : outs) o.allocate();
        } else {
          p.eval_cpu(a.inputs(), outs);
        }
      } catch (const std::bad_alloc&) {
        // Scratch memory of a kernel (sorts, gathers) that the host cannot give.
        throw std::runtime_error(fmt::format("[{}] out of host memory evaluating shape {}",
                                             p.name(), shape_str(a.shape())));
      }
    } else {
      p.eval_gpu(moved, outs);
      moved.clear();
    }
    if (profiling) {
      detail::eager_profile_add(
          p.name(), a.shape(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    for (auto& o : outs) {
      if (!o.is_evaluated()) {
        throw std::logic_error(fmt::format("[eval] {} left an output unset", p.name()));
      }
      // Transforms walk the graph after f ran, so tracing keeps the edges.
      if (!transforms::tracing()) o.detach();
    }
    a = array();  // let intermediates die as soon as their consumers ran
  }
}

void array::eval() const { mfx::eval({*this}); }

}  // namespace mfx
