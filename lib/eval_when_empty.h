// Primitives that run even when their outputs are empty (internal).
// eval does not call eval_cpu of a primitive whose outputs hold no elements:
// its kernel has nothing to write, and may size scratch memory from the
// other dims. A primitive that stands for several ops (a jitted program, a
// fused kernel) may hold an op whose own result is not empty, such as a take
// of which only an empty slice is used; eager evaluation runs that op and
// refuses an index out of range, so such a primitive derives from
// EvalWhenEmpty and eval calls its eval_cpu all the same.
#pragma once

namespace mfx {

class EvalWhenEmpty {
 public:
  virtual ~EvalWhenEmpty() = default;
};

}  // namespace mfx
