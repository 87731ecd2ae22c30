// The graph scheduler: topological order without recursion, then one kernel
// call per primitive; evaluated nodes drop their inputs.
#include <fmt/format.h>

#include <unordered_set>

#include "mfx/array.h"
#include "mfx/primitive.h"
#include "transforms/trace.h"

namespace mfx {

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
    if (p.device().type == Device::Type::cpu) {
      p.eval_cpu(a.inputs(), outs);
    } else {
      p.eval_gpu(a.inputs(), outs);
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
