// Differentiation rules of the elementwise primitives, written with mfx ops so
// that they can be differentiated again. Elementwise Jacobians are diagonal,
// so one "scale g by the partial derivative" function serves vjp and jvp.
#include <cmath>
#include <optional>

#include "mfx/mfx.h"
#include "primitives/elementwise.h"

namespace mfx {

namespace {

// Integer and bool values are not differentiable: their rules give zeros.
bool differentiable(const array& a) {
  return is_floating(a.dtype());
}

// g * d op(x) / dx. `out` is op(x) when the caller has it (vjp); otherwise it
// is recomputed only by the rules that need it.
array unary_scale(UnaryOp op, const array& x, std::optional<array> out, const array& g) {
  auto y = [&]() -> array {
    if (out) return *out;
    switch (op) {
      case UnaryOp::Exp:
        return exp(x);
      case UnaryOp::Expm1:
        return expm1(x);
      case UnaryOp::Sqrt:
        return sqrt(x);
      case UnaryOp::Rsqrt:
        return rsqrt(x);
      case UnaryOp::Reciprocal:
        return reciprocal(x);
      case UnaryOp::Tan:
        return tan(x);
      case UnaryOp::Tanh:
        return tanh(x);
      case UnaryOp::Sigmoid:
        return sigmoid(x);
      case UnaryOp::Erfinv:
        return erfinv(x);
      default:
        throw std::logic_error("[Unary] output not needed by this rule");
    }
  };
  switch (op) {
    case UnaryOp::Negative:
      return negative(g);
    case UnaryOp::Abs:
      return g * sign(x);  // 0 at x = 0 (a subgradient)
    case UnaryOp::Exp:
      return g * y();
    case UnaryOp::Log:
      return g / x;
    case UnaryOp::Log1p:
      return g / (x + 1.0);
    case UnaryOp::Expm1:
      return g * (y() + 1.0);
    case UnaryOp::Sqrt:
      return g / (2.0 * y());
    case UnaryOp::Rsqrt:
      return g * (-0.5 * y() / x);  // -x^(-3/2) / 2
    case UnaryOp::Square:
      return g * (2.0 * x);
    case UnaryOp::Reciprocal:
      return negative(g * square(y()));
    case UnaryOp::Sin:
      return g * cos(x);
    case UnaryOp::Cos:
      return negative(g * sin(x));
    case UnaryOp::Tan:
      return g * (1.0 + square(y()));
    case UnaryOp::Arctan:
      return g / (1.0 + square(x));
    case UnaryOp::Tanh:
      return g * (1.0 - square(y()));
    case UnaryOp::Sigmoid: {
      array s = y();
      return g * (s * (1.0 - s));
    }
    case UnaryOp::Erf:
      return g * (M_2_SQRTPI * exp(negative(square(x))));
    case UnaryOp::Erfinv:
      return g * ((0.5 * std::sqrt(M_PI)) * exp(square(y())));
    // Piecewise constant or non-differentiable (bool output): zero.
    case UnaryOp::Sign:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
    case UnaryOp::IsInf:
    case UnaryOp::IsFinite:
      return zeros_like(x);
  }
  return zeros_like(x);
}

// Weight in [0, 1] of the cotangent routed to `a` by maximum(a, b) (or
// minimum when `is_max` is false): 1 where a is selected or is NaN (NaN
// propagates from it), 1/2 on ties; b receives the rest.
array select_weight(const array& a, const array& b, bool is_max) {
  array wins = (is_max ? greater(a, b) : less(a, b)) || isnan(a);
  array half = weak_scalar(0.5, a);
  return where(wins, ones_like(a), where(equal(a, b), half, zeros_like(a)));
}

// g * d op(a, b) / d input[which] for floating a, b.
array binary_scale(BinaryOp op, const array& a, const array& b, std::optional<array> out, int which,
                   const array& g) {
  auto y = [&]() { return out ? *out : power(a, b); };
  switch (op) {
    case BinaryOp::Add:
      return g;
    case BinaryOp::Subtract:
      return which == 0 ? g : negative(g);
    case BinaryOp::Multiply:
      return g * (which == 0 ? b : a);
    case BinaryOp::Divide:
      return which == 0 ? g / b : negative(g * a / square(b));
    // a - b * floor(a / b): piecewise linear in a, slope -floor(a / b) in b.
    case BinaryOp::Remainder:
      return which == 0 ? g : negative(g * floor(a / b));
    case BinaryOp::Power: {
      array zero = zeros_like(a);
      if (which == 0) {
        // b a^(b-1), taken as 0 where b == 0 (avoids 0 * inf at a = 0).
        return where(equal(b, zero), zero, g * (b * power(a, b - 1.0)));
      }
      // a^b log(a), taken as 0 where a == 0 (the limit for b > 0).
      return where(equal(a, zero), zero, g * (y() * log(a)));
    }
    case BinaryOp::Maximum:
    case BinaryOp::Minimum: {
      array w = select_weight(a, b, op == BinaryOp::Maximum);
      return which == 0 ? g * w : g * (1.0 - w);
    }
    case BinaryOp::Arctan2: {
      array r2 = square(a) + square(b);
      return which == 0 ? g * b / r2 : negative(g * a / r2);
    }
    // Piecewise constant or bool-valued: zero.
    case BinaryOp::FloorDivide:
    case BinaryOp::Equal:
    case BinaryOp::NotEqual:
    case BinaryOp::Less:
    case BinaryOp::LessEqual:
    case BinaryOp::Greater:
    case BinaryOp::GreaterEqual:
    case BinaryOp::LogicalAnd:
    case BinaryOp::LogicalOr:
    case BinaryOp::LogicalXor:
      return zeros_like(g);
  }
  return zeros_like(g);
}

}  // namespace

std::vector<array> Unary::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                              const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(differentiable(x) && differentiable(outputs[0])
                      ? unary_scale(op_, x, outputs[0], cts[0])
                      : zeros_like(x));
  }
  return res;
}

std::vector<array> Unary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) {
  const array& x = primals[0];
  // Every floating Unary keeps the input dtype; the others give bool or ints.
  bool float_out = differentiable(x) && op_ != UnaryOp::IsNan && op_ != UnaryOp::IsInf &&
                   op_ != UnaryOp::IsFinite && op_ != UnaryOp::LogicalNot;
  if (!float_out) {
    Dtype t = (op_ == UnaryOp::IsNan || op_ == UnaryOp::IsInf || op_ == UnaryOp::IsFinite ||
               op_ == UnaryOp::LogicalNot)
                  ? bool_
                  : x.dtype();
    return {zeros(x.shape(), t)};
  }
  return {unary_scale(op_, x, std::nullopt, tangents[0])};
}

namespace {

bool bool_valued(BinaryOp op) {
  return op >= BinaryOp::Equal;
}

}  // namespace

std::vector<array> Binary::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array &a = primals[0], &b = primals[1];
  std::vector<array> res;
  for (int i : argnums) {
    if (!differentiable(primals[i]) || !differentiable(outputs[0])) {
      res.push_back(zeros_like(primals[i]));
    } else {
      res.push_back(binary_scale(op_, a, b, outputs[0], i, cts[0]));
    }
  }
  return res;
}

std::vector<array> Binary::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array &a = primals[0], &b = primals[1];
  if (bool_valued(op_)) return {zeros(a.shape(), bool_)};
  if (!differentiable(a)) return {zeros_like(a)};
  std::optional<array> total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array t = binary_scale(op_, a, b, std::nullopt, argnums[k], tangents[k]);
    total = total ? *total + t : t;
  }
  return {total ? *total : zeros_like(a)};
}

std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& cond = primals[0];
  std::vector<array> res;
  for (int i : argnums) {
    if (i == 0 || !differentiable(primals[i])) {
      res.push_back(zeros_like(primals[i]));
    } else {
      array z = zeros_like(cts[0]);
      res.push_back(i == 1 ? where(cond, cts[0], z) : where(cond, z, cts[0]));
    }
  }
  return res;
}

std::vector<array> Select::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array& a = primals[1];
  if (!differentiable(a)) return {zeros_like(a)};
  array ta = zeros_like(a), tb = zeros_like(a);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 1) ta = tangents[k];
    if (argnums[k] == 2) tb = tangents[k];
  }
  return {where(primals[0], ta, tb)};
}

// Casts between floating types carry the derivative (cast back); a cast from
// or to an integer or bool type cuts it.
std::vector<array> AsType::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  bool carries = differentiable(x) && is_floating(dtype_);
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(carries ? astype(cts[0], x.dtype()) : zeros_like(x));
  }
  return res;
}

std::vector<array> AsType::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  bool carries = differentiable(x) && is_floating(dtype_);
  return {carries ? astype(tangents[0], dtype_) : zeros(x.shape(), dtype_)};
}

std::vector<array> StopGradient::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>& argnums, const std::vector<array>&) {
  return std::vector<array>(argnums.size(), zeros_like(primals[0]));
}

std::vector<array> StopGradient::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&) {
  return {zeros_like(primals[0])};
}

}  // namespace mfx
