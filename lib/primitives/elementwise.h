// Elementwise primitives: one class per arity, the operation as an enum so the
// compiler's expression emitter can switch over the same list (internal).
#pragma once

#include "mfx/primitive.h"

namespace mfx {

enum class UnaryOp {
  Negative,
  Abs,
  Sign,
  Exp,
  Log,
  Log1p,
  Expm1,
  Sqrt,
  Rsqrt,
  Square,
  Reciprocal,
  Sin,
  Cos,
  Tan,
  Arctan,
  Tanh,
  Sigmoid,
  Erf,
  Erfinv,
  Floor,
  Ceil,
  Round,
  LogicalNot,
  IsNan,
  IsInf,
  IsFinite,
};

enum class BinaryOp {
  Add,
  Subtract,
  Multiply,
  Divide,
  FloorDivide,
  Remainder,
  Power,
  Maximum,
  Minimum,
  Arctan2,
  Equal,
  NotEqual,
  Less,
  LessEqual,
  Greater,
  GreaterEqual,
  LogicalAnd,
  LogicalOr,
  LogicalXor,
};

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

/// out = op(x); output dtype decided by the op function.
/// Derivatives (elementwise_grad.cpp): the usual ones; abs has slope 0 at 0;
/// sign/floor/ceil/round, bool results and integer inputs give zeros.
class Unary : public Primitive {
 public:
  explicit Unary(UnaryOp op) : op_(op) {}
  UnaryOp op() const { return op_; }
  std::string name() const override { return unary_op_name(op_); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  UnaryOp op_;
};

/// out = op(a, b) for inputs of one dtype and one (broadcast) shape.
/// Derivatives (elementwise_grad.cpp): maximum/minimum route the cotangent to
/// the selected input (to a NaN input when one is NaN), ties split it 1/2 each;
/// power's d/da is 0 where b == 0 and d/db is 0 where a == 0 (no 0 * inf);
/// remainder = a - b floor(a/b) (d/db = -floor(a/b)); floor_divide,
/// comparisons, logical ops and integer inputs give zeros.
class Binary : public Primitive {
 public:
  explicit Binary(BinaryOp op) : op_(op) {}
  BinaryOp op() const { return op_; }
  std::string name() const override { return binary_op_name(op_); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  BinaryOp op_;
};

/// out = cond ? a : b (cond bool; a, b one dtype; one shape).
class Select : public Primitive {
 public:
  std::string name() const override { return "Select"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;
};

/// Element type conversion. Float-to-float casts pass derivatives (cast
/// back); casts from or to integer/bool types give zeros.
class AsType : public Primitive {
 public:
  explicit AsType(Dtype dtype) : dtype_(dtype) {}
  Dtype dtype() const { return dtype_; }
  std::string name() const override { return "AsType"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Dtype dtype_;
};

/// Identity whose gradient is zero.
class StopGradient : public Primitive {
 public:
  std::string name() const override { return "StopGradient"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;
};

}  // namespace mfx
