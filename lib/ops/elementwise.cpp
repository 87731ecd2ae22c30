// Elementwise op functions: validation, promotion, broadcasting.
#include <cmath>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/elementwise.h"
#include "primitives/elementwise_names.h"

namespace mfx {

namespace {

array make_unary(UnaryOp op, const array& x, Dtype out_dtype) {
  return array(x.shape(), out_dtype, std::make_shared<Unary>(op), {x});
}

// Floating unary math: integers and bool are computed in float32.
array float_unary(UnaryOp op, const array& x) {
  check_valid(x, unary_public_name(op));
  array xf = astype(x, to_floating(x.dtype()));
  return make_unary(op, xf, xf.dtype());
}

array make_binary(BinaryOp op, const array& a, const array& b, Dtype in_dtype, Dtype out_dtype) {
  const char* name = binary_public_name(op);
  // The broadcast shape is size-checked by the broadcast_to below: it must
  // name this op (add of (2^24,1) and (1,2^24) is add's error).
  PublicOpScope scope(name);
  check_valid(a, name);
  check_valid(b, name);
  Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  array x = broadcast_to(astype(a, in_dtype), s);
  array y = broadcast_to(astype(b, in_dtype), s);
  return array(s, out_dtype, std::make_shared<Binary>(op), {x, y});
}

// Arithmetic that has no bool kernel. Refused here, where the graph is
// built, rather than by the kernel: a kernel that never runs (only an empty
// slice of its result is used) would then refuse eagerly but not jitted.
bool refuses_bool(BinaryOp op) {
  return op == BinaryOp::Subtract || op == BinaryOp::FloorDivide || op == BinaryOp::Remainder ||
         op == BinaryOp::Power;
}

array arith(BinaryOp op, const array& a, const array& b) {
  check_valid(a, binary_public_name(op));
  check_valid(b, binary_public_name(op));
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t == bool_ && refuses_bool(op)) {
    throw std::invalid_argument(fmt::format("[{}] not supported for bool arrays {} and {}",
                                            binary_public_name(op), shape_str(a.shape()),
                                            shape_str(b.shape())));
  }
  return make_binary(op, a, b, t, t);
}

array float_binary(BinaryOp op, const array& a, const array& b) {
  check_valid(a, binary_public_name(op));
  check_valid(b, binary_public_name(op));
  Dtype t = to_floating(promote_types(a.dtype(), b.dtype()));
  return make_binary(op, a, b, t, t);
}

array compare(BinaryOp op, const array& a, const array& b) {
  check_valid(a, binary_public_name(op));
  check_valid(b, binary_public_name(op));
  return make_binary(op, a, b, promote_types(a.dtype(), b.dtype()), bool_);
}

array logical(BinaryOp op, const array& a, const array& b) {
  return make_binary(op, a, b, bool_, bool_);
}

}  // namespace

array astype(const array& a, Dtype dtype) {
  check_valid(a, "astype");
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(dtype), {a});
}

array add(const array& a, const array& b) { return arith(BinaryOp::Add, a, b); }
array subtract(const array& a, const array& b) { return arith(BinaryOp::Subtract, a, b); }
array multiply(const array& a, const array& b) { return arith(BinaryOp::Multiply, a, b); }
array divide(const array& a, const array& b) { return float_binary(BinaryOp::Divide, a, b); }
array floor_divide(const array& a, const array& b) { return arith(BinaryOp::FloorDivide, a, b); }
array remainder(const array& a, const array& b) { return arith(BinaryOp::Remainder, a, b); }
array power(const array& a, const array& b) { return arith(BinaryOp::Power, a, b); }
array maximum(const array& a, const array& b) { return arith(BinaryOp::Maximum, a, b); }
array minimum(const array& a, const array& b) { return arith(BinaryOp::Minimum, a, b); }
array arctan2(const array& a, const array& b) { return float_binary(BinaryOp::Arctan2, a, b); }

array negative(const array& a) {
  check_valid(a, "negative");
  if (a.dtype() == bool_) {
    throw std::invalid_argument(
        fmt::format("[negative] not supported for bool array of shape {}", shape_str(a.shape())));
  }
  return make_unary(UnaryOp::Negative, a, a.dtype());
}
array abs(const array& a) {
  check_valid(a, "abs");
  return make_unary(UnaryOp::Abs, a, a.dtype());
}
array sign(const array& a) {
  check_valid(a, "sign");
  return make_unary(UnaryOp::Sign, a, a.dtype());
}
array square(const array& a) {
  check_valid(a, "square");
  return make_unary(UnaryOp::Square, a, a.dtype());
}
array exp(const array& a) { return float_unary(UnaryOp::Exp, a); }
array log(const array& a) { return float_unary(UnaryOp::Log, a); }
array log1p(const array& a) { return float_unary(UnaryOp::Log1p, a); }
array expm1(const array& a) { return float_unary(UnaryOp::Expm1, a); }
array sqrt(const array& a) { return float_unary(UnaryOp::Sqrt, a); }
array rsqrt(const array& a) { return float_unary(UnaryOp::Rsqrt, a); }
array reciprocal(const array& a) { return float_unary(UnaryOp::Reciprocal, a); }
array sin(const array& a) { return float_unary(UnaryOp::Sin, a); }
array cos(const array& a) { return float_unary(UnaryOp::Cos, a); }
array tan(const array& a) { return float_unary(UnaryOp::Tan, a); }
array arctan(const array& a) { return float_unary(UnaryOp::Arctan, a); }
array tanh(const array& a) { return float_unary(UnaryOp::Tanh, a); }
array sigmoid(const array& a) { return float_unary(UnaryOp::Sigmoid, a); }
array erf(const array& a) { return float_unary(UnaryOp::Erf, a); }
array erfinv(const array& a) { return float_unary(UnaryOp::Erfinv, a); }

// Rounding is the identity on integers.
array floor(const array& a) {
  check_valid(a, "floor");
  return is_floating(a.dtype()) ? make_unary(UnaryOp::Floor, a, a.dtype()) : a;
}
array ceil(const array& a) {
  check_valid(a, "ceil");
  return is_floating(a.dtype()) ? make_unary(UnaryOp::Ceil, a, a.dtype()) : a;
}
array round(const array& a) {
  check_valid(a, "round");
  return is_floating(a.dtype()) ? make_unary(UnaryOp::Round, a, a.dtype()) : a;
}

array relu(const array& a) {
  check_valid(a, "relu");
  return maximum(a, zeros({}, a.dtype()));
}

array gelu(const array& a, bool approximate) {
  check_valid(a, "gelu");
  array x = astype(a, to_floating(a.dtype()));
  if (approximate) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    array inner = (x + 0.044715 * x * x * x) * std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + tanh(inner));
  }
  return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}

array softplus(const array& a) {
  check_valid(a, "softplus");
  array x = astype(a, to_floating(a.dtype()));
  // max(x, 0) + log1p(exp(-|x|)) never overflows.
  return maximum(x, zeros({}, x.dtype())) + log1p(exp(negative(abs(x))));
}

array log_sigmoid(const array& a) {
  check_valid(a, "log_sigmoid");
  return negative(softplus(negative(astype(a, to_floating(a.dtype())))));
}

array clip(const array& a, std::optional<array> lo, std::optional<array> hi) {
  check_valid(a, "clip");
  if (!lo && !hi) throw std::invalid_argument("[clip] at least one of lo and hi must be given");
  return as_public_op("clip", [&] {
    array out = a;
    if (lo) out = maximum(out, astype(*lo, is_floating(lo->dtype()) && !is_floating(a.dtype()) ? lo->dtype() : a.dtype()));
    if (hi) out = minimum(out, astype(*hi, is_floating(hi->dtype()) && !is_floating(out.dtype()) ? hi->dtype() : out.dtype()));
    return out;
  });
}

array equal(const array& a, const array& b) { return compare(BinaryOp::Equal, a, b); }
array not_equal(const array& a, const array& b) { return compare(BinaryOp::NotEqual, a, b); }
array less(const array& a, const array& b) { return compare(BinaryOp::Less, a, b); }
array less_equal(const array& a, const array& b) { return compare(BinaryOp::LessEqual, a, b); }
array greater(const array& a, const array& b) { return compare(BinaryOp::Greater, a, b); }
array greater_equal(const array& a, const array& b) { return compare(BinaryOp::GreaterEqual, a, b); }
array logical_and(const array& a, const array& b) { return logical(BinaryOp::LogicalAnd, a, b); }
array logical_or(const array& a, const array& b) { return logical(BinaryOp::LogicalOr, a, b); }
array logical_xor(const array& a, const array& b) { return logical(BinaryOp::LogicalXor, a, b); }
array logical_not(const array& a) {
  check_valid(a, "logical_not");
  return make_unary(UnaryOp::LogicalNot, astype(a, bool_), bool_);
}
array isnan(const array& a) {
  check_valid(a, "isnan");
  return make_unary(UnaryOp::IsNan, a, bool_);
}
array isinf(const array& a) {
  check_valid(a, "isinf");
  return make_unary(UnaryOp::IsInf, a, bool_);
}
array isfinite(const array& a) {
  check_valid(a, "isfinite");
  return make_unary(UnaryOp::IsFinite, a, bool_);
}

array where(const array& cond, const array& a, const array& b) {
  check_valid(cond, "where");
  check_valid(a, "where");
  check_valid(b, "where");
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Dtype t = promote_types(a.dtype(), b.dtype());
  return array(s, t, std::make_shared<Select>(),
               {broadcast_to(astype(cond, bool_), s), broadcast_to(astype(a, t), s),
                broadcast_to(astype(b, t), s)});
}

array stop_gradient(const array& a) {
  check_valid(a, "stop_gradient");
  return array(a.shape(), a.dtype(), std::make_shared<StopGradient>(), {a});
}

array weak_scalar(double value, const array& like) {
  check_valid(like, "weak_scalar");
  return array(value, is_floating(like.dtype()) ? like.dtype() : float32);
}

array weak_scalar(int64_t value, const array& like) {
  check_valid(like, "weak_scalar");
  Dtype t = like.dtype() == bool_ ? int32 : like.dtype();
  return array(value, t);
}

array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }
array operator+(const array& a, const array& b) { return add(a, b); }
array operator-(const array& a, const array& b) { return subtract(a, b); }
array operator*(const array& a, const array& b) { return multiply(a, b); }
array operator/(const array& a, const array& b) { return divide(a, b); }
array operator<(const array& a, const array& b) { return less(a, b); }
array operator<=(const array& a, const array& b) { return less_equal(a, b); }
array operator>(const array& a, const array& b) { return greater(a, b); }
array operator>=(const array& a, const array& b) { return greater_equal(a, b); }
array operator&&(const array& a, const array& b) { return logical_and(a, b); }
array operator||(const array& a, const array& b) { return logical_or(a, b); }

}  // namespace mfx
