#include "primitives/elementwise.h"
#include "primitives/elementwise_names.h"

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

const char* unary_public_name(UnaryOp op) {
  static const char* names[] = {"negative", "abs",     "sign",   "exp",    "log",         "log1p",
                                "expm1",    "sqrt",    "rsqrt",  "square", "reciprocal",  "sin",
                                "cos",      "tan",     "arctan", "tanh",   "sigmoid",     "erf",
                                "erfinv",   "floor",   "ceil",   "round",  "logical_not", "isnan",
                                "isinf",    "isfinite"};
  return names[static_cast<int>(op)];
}

const char* binary_public_name(BinaryOp op) {
  static const char* names[] = {"add",          "subtract",   "multiply",   "divide",
                                "floor_divide", "remainder",  "power",      "maximum",
                                "minimum",      "arctan2",    "equal",      "not_equal",
                                "less",         "less_equal", "greater",    "greater_equal",
                                "logical_and",  "logical_or", "logical_xor"};
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
