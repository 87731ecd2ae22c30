#include "primitives/elementwise.h"

namespace mfx {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {
      "Negative", "Abs", "Sign", "Exp", "Log", "Log1p", "Expm1", "Sqrt", "Rsqrt",
      "Square", "Reciprocal", "Sin", "Cos", "Tan", "Arctan", "Tanh", "Sigmoid",
      "Erf", "Erfinv", "Floor", "Ceil", "Round", "LogicalNot", "IsNan", "IsInf", "IsFinite"};
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {
      "Add", "Subtract", "Multiply", "Divide", "FloorDivide", "Remainder", "Power",
      "Maximum", "Minimum", "Arctan2", "Equal", "NotEqual", "Less", "LessEqual",
      "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalXor"};
  return names[static_cast<int>(op)];
}

bool Unary::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Unary*>(&other);
  return o && o->op_ == op_;
}
bool Binary::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Binary*>(&other);
  return o && o->op_ == op_;
}
bool Select::is_equivalent(const Primitive& other) const {
  return dynamic_cast<const Select*>(&other) != nullptr;
}
bool AsType::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const AsType*>(&other);
  return o && o->dtype_ == dtype_;
}
bool StopGradient::is_equivalent(const Primitive& other) const {
  return dynamic_cast<const StopGradient*>(&other) != nullptr;
}

}  // namespace mfx
