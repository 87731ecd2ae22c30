// Small helper to write Kernel IR by hand (tests) or from the fusion planner:
// each method appends one expression to a phase and returns its id.
#pragma once

#include "compiler/kernel_ir.h"

namespace mfx::compiler {

class PhaseBuilder {
 public:
  explicit PhaseBuilder(Phase& phase) : phase_(phase) {}

  int constant(double value, Dtype dtype);
  int index(int64_t value) { return constant(static_cast<double>(value), int64); }
  int grid_index(int axis);
  int domain_index(int axis);
  int load(int arg, Dtype dtype, int index);
  int load_local(int local, Dtype dtype, std::vector<int> indices);
  int unary(UnaryOp op, int a);
  /// Result dtype: bool for comparisons and logical ops, else the operands'.
  int binary(BinaryOp op, int a, int b);
  int select(int cond, int a, int b);
  int cast(int a, Dtype dtype);

  // Index arithmetic shorthands on int64 expressions.
  int add(int a, int b) { return binary(BinaryOp::Add, a, b); }
  int mul(int a, int b) { return binary(BinaryOp::Multiply, a, b); }
  int div(int a, int b) { return binary(BinaryOp::FloorDivide, a, b); }
  int mod(int a, int b) { return binary(BinaryOp::Remainder, a, b); }
  /// sum_i indices[i] * strides[i] + offset (skips zero strides).
  int linear_index(const std::vector<int>& indices, const std::vector<int64_t>& strides,
                   int64_t offset = 0);

  void store(int arg, int index, int value) { phase_.stores.push_back({arg, index, value}); }
  void materialize(int local, int value) { phase_.materializations.push_back({local, value}); }
  void reduce(ReduceOp op, int local, int value) {
    phase_.reductions.push_back({op, local, value});
  }

  Dtype dtype_of(int expr) const { return phase_.exprs.at(expr).dtype; }

 private:
  int push(Expr e);
  Phase& phase_;
};

}  // namespace mfx::compiler
