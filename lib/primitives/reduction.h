// Reduction primitives: reductions over a set of axes, arg-reductions over one
// axis and scans (internal). The operation is an enum so that the compiler's
// reduction schedule can switch over the same list as the CPU kernels.
#pragma once

#include <vector>

#include "mfx/primitive.h"

namespace mfx {

enum class ReduceOp { Sum, Prod, Max, Min, All, Any };
enum class ArgReduceOp { ArgMax, ArgMin };
/// Scans: adding cumprod/cummax means one enum value here and one case in the
/// kernel's switch (lib/cpu/reduction.cpp).
enum class ScanOp { Sum };

const char* reduce_op_name(ReduceOp op);
const char* arg_reduce_op_name(ArgReduceOp op);
const char* scan_op_name(ScanOp op);

/// Reduces `axes` (normalised, sorted, unique) of the single input. The output
/// keeps every reduced axis as size 1 (the op function reshapes for
/// keepdims=false). Output dtypes:
///   Sum, Prod: int32 for bool/uint8/int32 inputs, int64 for int64, the input
///              dtype for floats, or float32 for any input (mean's sum; ints
///              then accumulate in double, halves in float32);
///   Max, Min:  the input dtype (NaN propagates);
///   All, Any:  bool (x != 0).
/// An empty reduced extent gives the identity (0, 1, true, false); the op
/// functions reject empty Max/Min before building the graph.
/// Derivatives (reduction_grad.cpp): Prod handles zeros exactly (one zero in
/// a group gets the product of the others, two or more give zeros); Max/Min
/// split the cotangent evenly over the elements equal to the result (like
/// JAX); All/Any, integer inputs and integer results give zeros.
class Reduce : public Primitive {
 public:
  Reduce(ReduceOp op, std::vector<int> axes, Dtype out_dtype)
      : op_(op), axes_(std::move(axes)), out_dtype_(out_dtype) {}
  ReduceOp op() const { return op_; }
  const std::vector<int>& axes() const { return axes_; }
  Dtype out_dtype() const { return out_dtype_; }
  std::string name() const override { return reduce_op_name(op_); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  ReduceOp op_;
  std::vector<int> axes_;
  Dtype out_dtype_;
};

/// int32 index of the first maximum (minimum) along `axis`; NaN counts as
/// the extreme, so the first NaN wins (numpy). The output keeps `axis` as
/// size 1. The axis must not be empty (checked by the op functions).
class ArgReduce : public Primitive {
 public:
  ArgReduce(ArgReduceOp op, int axis) : op_(op), axis_(axis) {}
  ArgReduceOp op() const { return op_; }
  int axis() const { return axis_; }
  std::string name() const override { return arg_reduce_op_name(op_); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  ArgReduceOp op_;
  int axis_;
};

/// Cumulative reduction along `axis` (same shape as the input). `reverse`
/// scans from the end; without `inclusive` each position holds the result of
/// the elements strictly before it (the identity first). Output dtype: int32
/// for bool/uint8/int32, int64 for int64, the input dtype for floats
/// (float32 accumulates in double, halves in float32).
class Scan : public Primitive {
 public:
  Scan(ScanOp op, int axis, bool reverse, bool inclusive)
      : op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  ScanOp op() const { return op_; }
  int axis() const { return axis_; }
  bool reverse() const { return reverse_; }
  bool inclusive() const { return inclusive_; }
  std::string name() const override { return scan_op_name(op_); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_;
  bool inclusive_;
};

}  // namespace mfx
