#include "primitives/reduction.h"

namespace mfx {

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"Sum", "Prod", "Max", "Min", "All", "Any"};
  return names[static_cast<int>(op)];
}

const char* arg_reduce_op_name(ArgReduceOp op) {
  return op == ArgReduceOp::ArgMax ? "ArgMax" : "ArgMin";
}

const char* scan_op_name(ScanOp op) {
  static const char* names[] = {"CumSum"};
  return names[static_cast<int>(op)];
}

bool Reduce::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Reduce*>(&other);
  return o && o->op_ == op_ && o->axes_ == axes_ && o->out_dtype_ == out_dtype_;
}

bool ArgReduce::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const ArgReduce*>(&other);
  return o && o->op_ == op_ && o->axis_ == axis_;
}

bool Scan::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Scan*>(&other);
  return o && o->op_ == op_ && o->axis_ == axis_ && o->reverse_ == reverse_ &&
         o->inclusive_ == inclusive_;
}

}  // namespace mfx
