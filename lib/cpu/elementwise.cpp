// CPU kernels of the elementwise primitives.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "cpu/copy.h"
#include "cpu/elementwise_loops.h"
#include "cpu/fast_math.h"
#include "cpu/simd_clones.h"
#include "cpu/wrapping.h"
#include "primitives/elementwise.h"
#include "primitives/elementwise_names.h"

namespace mfx {

namespace {

using cpu::compute_t;

template <typename C>
C erfinv_impl(C y) {
  // Giles' single-precision approximation, refined by Newton steps on erf.
  if (y <= C(-1)) return y == C(-1) ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::quiet_NaN();
  if (y >= C(1)) return y == C(1) ? std::numeric_limits<C>::infinity() : std::numeric_limits<C>::quiet_NaN();
  double x = static_cast<double>(y);
  double w = -std::log((1.0 - x) * (1.0 + x));
  double p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double r = p * x;
  const double k = 1.1283791670955126;  // 2/sqrt(pi)
  for (int i = 0; i < 2; ++i) r -= (std::erf(r) - x) / (k * std::exp(-r * r));
  return static_cast<C>(r);
}

// Contiguous float32 loops over the fast_math kernels, in AVX-512, AVX2+FMA
// and baseline clones (simd_clones.h). FMA contraction may change the last
// bit (the two FMA clones contract alike).

MFX_SIMD_CLONES void fast_unary_f32(UnaryOp op, const float* x, float* o, int64_t n) {
  switch (op) {
    case UnaryOp::Exp:
      for (int64_t i = 0; i < n; ++i) o[i] = cpu::fast::exp(x[i]);
      break;
    case UnaryOp::Log:
      for (int64_t i = 0; i < n; ++i) o[i] = cpu::fast::log(x[i]);
      break;
    case UnaryOp::Log1p:
      for (int64_t i = 0; i < n; ++i) o[i] = cpu::fast::log1p(x[i]);
      break;
    case UnaryOp::Tanh:
      for (int64_t i = 0; i < n; ++i) o[i] = cpu::fast::tanh(x[i]);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) o[i] = cpu::fast::sigmoid(x[i]);
      break;
  }
}

template <typename T>
void eval_unary_float(UnaryOp op, const array& x, array& out) {
  using C = compute_t<T>;
  auto run = [&](auto f) { cpu::unary_loop<T, T>(x, out, [&](T v) { return T(f(C(v))); }); };
  // float32 and the half types (computed in float) use the branch-free
  // kernels of fast_math.h: contiguous float32 through fast_unary_f32, the
  // rest through unary_loop (SSE2-vectorised for float32). float64 keeps libm.
  if constexpr (std::is_same_v<C, float>) {
    const bool fast_op = op == UnaryOp::Exp || op == UnaryOp::Log || op == UnaryOp::Log1p ||
                         op == UnaryOp::Tanh || op == UnaryOp::Sigmoid;
    if constexpr (std::is_same_v<T, float>) {
      if (fast_op && x.flags().row_contiguous) {
        out.allocate();
        const float* xp = x.data_ptr<float>();
        float* o = out.data_ptr<float>();
        cpu::parallel_for(out.size(), cpu::kElementwiseGrain, [&](int64_t lo, int64_t hi) {
          fast_unary_f32(op, xp + lo, o + lo, hi - lo);
        });
        return;
      }
    }
    switch (op) {
      case UnaryOp::Exp: return run([](C v) { return cpu::fast::exp(v); });
      case UnaryOp::Log: return run([](C v) { return cpu::fast::log(v); });
      case UnaryOp::Log1p: return run([](C v) { return cpu::fast::log1p(v); });
      case UnaryOp::Tanh: return run([](C v) { return cpu::fast::tanh(v); });
      case UnaryOp::Sigmoid: return run([](C v) { return cpu::fast::sigmoid(v); });
      default: break;
    }
  }
  switch (op) {
    case UnaryOp::Exp: return run([](C v) { return std::exp(v); });
    case UnaryOp::Log: return run([](C v) { return std::log(v); });
    case UnaryOp::Log1p: return run([](C v) { return std::log1p(v); });
    case UnaryOp::Expm1: return run([](C v) { return std::expm1(v); });
    case UnaryOp::Sqrt: return run([](C v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return run([](C v) { return C(1) / std::sqrt(v); });
    case UnaryOp::Reciprocal: return run([](C v) { return C(1) / v; });
    case UnaryOp::Sin: return run([](C v) { return std::sin(v); });
    case UnaryOp::Cos: return run([](C v) { return std::cos(v); });
    case UnaryOp::Tan: return run([](C v) { return std::tan(v); });
    case UnaryOp::Arctan: return run([](C v) { return std::atan(v); });
    case UnaryOp::Tanh: return run([](C v) { return std::tanh(v); });
    case UnaryOp::Sigmoid:
      // Both branches avoid overflow of exp for large |v|.
      return run([](C v) {
        if (v >= C(0)) return C(1) / (C(1) + std::exp(-v));
        C e = std::exp(v);
        return e / (C(1) + e);
      });
    case UnaryOp::Erf: return run([](C v) { return std::erf(v); });
    case UnaryOp::Erfinv: return run([](C v) { return erfinv_impl(v); });
    case UnaryOp::Floor: return run([](C v) { return std::floor(v); });
    case UnaryOp::Ceil: return run([](C v) { return std::ceil(v); });
    case UnaryOp::Round: return run([](C v) { return std::nearbyint(v); });
    default: throw std::logic_error("[Unary] not a floating op");
  }
}

template <typename T>
void eval_unary_any(UnaryOp op, const array& x, array& out) {
  using C = compute_t<T>;
  switch (op) {
    case UnaryOp::Negative:
      if constexpr (!std::is_same_v<T, bool>) {
        return cpu::unary_loop<T, T>(x, out, [](T v) { return T(cpu::wrap_neg(C(v))); });
      }
      break;
    case UnaryOp::Abs:
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>) {
        return cpu::unary_loop<T, T>(x, out, [](T v) { return v; });
      } else {
        return cpu::unary_loop<T, T>(x, out, [](T v) { return T(C(v) < C(0) ? cpu::wrap_neg(C(v)) : C(v)); });
      }
    case UnaryOp::Sign:
      // No early return for NaN: a select keeps the loop vectorised.
      return cpu::unary_loop<T, T>(x, out, [](T v) {
        const C c = C(v);
        const C s = C(C(C(0) < c) - C(c < C(0)));
        return T(c == c ? s : c);
      });
    case UnaryOp::Square: return cpu::unary_loop<T, T>(x, out, [](T v) { return T(cpu::wrap_mul(C(v), C(v))); });
    case UnaryOp::IsNan:
      return cpu::unary_loop<T, bool>(x, out, [](T v) {
        if constexpr (std::is_floating_point_v<C>) return std::isnan(C(v));
        return false;
      });
    case UnaryOp::IsInf:
      return cpu::unary_loop<T, bool>(x, out, [](T v) {
        if constexpr (std::is_floating_point_v<C>) return std::isinf(C(v));
        return false;
      });
    case UnaryOp::IsFinite:
      return cpu::unary_loop<T, bool>(x, out, [](T v) {
        if constexpr (std::is_floating_point_v<C>) return std::isfinite(C(v));
        return true;
      });
    case UnaryOp::LogicalNot:
      if constexpr (std::is_same_v<T, bool>) {
        return cpu::unary_loop<T, bool>(x, out, [](T v) { return !v; });
      }
      break;
    default:
      if constexpr (std::is_floating_point_v<C>) return eval_unary_float<T>(op, x, out);
      break;
  }
  throw std::invalid_argument(
      fmt::format("[{}] dtype {} is not supported", unary_public_name(op), dtype_name(x.dtype())));
}

// Integer division and remainder with Python/numpy floor semantics; x/0 is 0
// instead of a crash.
template <typename C>
C int_floor_div(C a, C b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return cpu::wrap_neg(a);  // avoids INT_MIN / -1 trapping
    C q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  } else {
    return a / b;
  }
}
template <typename C>
C int_remainder(C a, C b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return 0;
    C r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    return a % b;
  }
}
template <typename C>
C int_power(C base, C e) {
  if constexpr (std::is_signed_v<C>) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
  }
  C r = 1;
  while (e) {
    if (e & 1) r = cpu::wrap_mul(r, base);
    base = cpu::wrap_mul(base, base);
    e >>= 1;
  }
  return r;
}

template <typename T>
void eval_binary(BinaryOp op, const array& a, const array& b, array& out) {
  using C = compute_t<T>;
  constexpr bool kFloat = std::is_floating_point_v<C>;
  auto arith = [&](auto f) {
    cpu::binary_loop<T, T>(a, b, out, [&](T x, T y) { return T(f(C(x), C(y))); });
  };
  auto cmp = [&](auto f) {
    cpu::binary_loop<T, bool>(a, b, out, [&](T x, T y) { return f(C(x), C(y)); });
  };
  switch (op) {
    case BinaryOp::Add:
      if constexpr (std::is_same_v<T, bool>) return cmp([](bool x, bool y) { return x || y; });
      else return arith([](C x, C y) { return cpu::wrap_add(x, y); });
    case BinaryOp::Subtract:
      if constexpr (!std::is_same_v<T, bool>) return arith([](C x, C y) { return cpu::wrap_sub(x, y); });
      break;
    case BinaryOp::Multiply:
      if constexpr (std::is_same_v<T, bool>) return cmp([](bool x, bool y) { return x && y; });
      else return arith([](C x, C y) { return cpu::wrap_mul(x, y); });
    case BinaryOp::Divide:
      if constexpr (kFloat) return arith([](C x, C y) { return x / y; });
      break;
    case BinaryOp::FloorDivide:
      if constexpr (kFloat) return arith([](C x, C y) { return std::floor(x / y); });
      else if constexpr (!std::is_same_v<T, bool>) return arith([](C x, C y) { return int_floor_div(x, y); });
      break;
    case BinaryOp::Remainder:
      if constexpr (kFloat) {
        return arith([](C x, C y) {
          C r = std::fmod(x, y);
          if (r != C(0) && ((r < C(0)) != (y < C(0)))) r += y;
          return r;
        });
      } else if constexpr (!std::is_same_v<T, bool>) {
        return arith([](C x, C y) { return int_remainder(x, y); });
      }
      break;
    case BinaryOp::Power:
      if constexpr (kFloat) return arith([](C x, C y) { return std::pow(x, y); });
      else if constexpr (!std::is_same_v<T, bool>) return arith([](C x, C y) { return int_power(x, y); });
      break;
    case BinaryOp::Maximum:
      // NaN propagates, like numpy.maximum.
      if constexpr (kFloat) return arith([](C x, C y) { return (x > y || std::isnan(x)) ? x : y; });
      else return arith([](C x, C y) { return x > y ? x : y; });
    case BinaryOp::Minimum:
      if constexpr (kFloat) return arith([](C x, C y) { return (x < y || std::isnan(x)) ? x : y; });
      else return arith([](C x, C y) { return x < y ? x : y; });
    case BinaryOp::Arctan2:
      if constexpr (kFloat) return arith([](C x, C y) { return std::atan2(x, y); });
      break;
    case BinaryOp::Equal: return cmp([](C x, C y) { return x == y; });
    case BinaryOp::NotEqual: return cmp([](C x, C y) { return x != y; });
    case BinaryOp::Less: return cmp([](C x, C y) { return x < y; });
    case BinaryOp::LessEqual: return cmp([](C x, C y) { return x <= y; });
    case BinaryOp::Greater: return cmp([](C x, C y) { return x > y; });
    case BinaryOp::GreaterEqual: return cmp([](C x, C y) { return x >= y; });
    case BinaryOp::LogicalAnd:
      if constexpr (std::is_same_v<T, bool>) return cmp([](bool x, bool y) { return x && y; });
      break;
    case BinaryOp::LogicalOr:
      if constexpr (std::is_same_v<T, bool>) return cmp([](bool x, bool y) { return x || y; });
      break;
    case BinaryOp::LogicalXor:
      if constexpr (std::is_same_v<T, bool>) return cmp([](bool x, bool y) { return x != y; });
      break;
  }
  throw std::invalid_argument(
      fmt::format("[{}] dtype {} is not supported", binary_public_name(op), dtype_name(a.dtype())));
}

}  // namespace

void Unary::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_all(in[0].dtype(),
                    [&](auto t) { eval_unary_any<typename decltype(t)::type>(op_, in[0], out[0]); });
}

void Binary::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_all(in[0].dtype(), [&](auto t) {
    eval_binary<typename decltype(t)::type>(op_, in[0], in[1], out[0]);
  });
}

namespace {

// c ? a : b without a branch: masks are random in general (gradients of
// relu / maximum, masked losses), and a mispredicted branch per element
// costs more than the blend; the loops below vectorise (conditions are read
// as bytes: GCC does not vectorise loads of bool).
template <typename T>
inline T blend(uint8_t c, T a, T b) {
  if constexpr (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8) {
    using U = std::conditional_t<
        sizeof(T) == 1, uint8_t,
        std::conditional_t<sizeof(T) == 2, uint16_t,
                           std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    const U m = U(0) - static_cast<U>(c);
    return std::bit_cast<T>(static_cast<U>((std::bit_cast<U>(a) & m) | (std::bit_cast<U>(b) & ~m)));
  } else {
    return c ? a : b;
  }
}

// where(c, x, y) over strided operands. Inner loops specialise the common
// layouts (contiguous rows, x or y a broadcast scalar, as in gradients of
// relu / maximum and masked losses) so they vectorise; rows split over cores.
template <typename T>
void select_loop(const array& cond, const array& xa, const array& ya, array& o) {
  const uint8_t* c = reinterpret_cast<const uint8_t*>(cond.data_ptr<bool>());
  const T* x = xa.data_ptr<T>();
  const T* y = ya.data_ptr<T>();
  T* op = o.data_ptr<T>();
  auto row = [&](std::array<int64_t, 4> off, int64_t n, std::array<int64_t, 4> inc) {
    const uint8_t* cp = c + off[0];
    const T* xp = x + off[1];
    const T* yp = y + off[2];
    T* dst = op + off[3];  // out is row-major: inner stride 1
    if (inc[0] == 1 && inc[1] == 1 && inc[2] == 1) {
      for (int64_t i = 0; i < n; ++i) dst[i] = blend(cp[i], xp[i], yp[i]);
    } else if (inc[0] == 1 && inc[1] == 1 && inc[2] == 0) {
      const T yv = *yp;
      for (int64_t i = 0; i < n; ++i) dst[i] = blend(cp[i], xp[i], yv);
    } else if (inc[0] == 1 && inc[1] == 0 && inc[2] == 1) {
      const T xv = *xp;
      for (int64_t i = 0; i < n; ++i) dst[i] = blend(cp[i], xv, yp[i]);
    } else if (inc[0] == 1 && inc[1] == 0 && inc[2] == 0) {
      const T xv = *xp, yv = *yp;
      for (int64_t i = 0; i < n; ++i) dst[i] = blend(cp[i], xv, yv);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        dst[i] = blend(cp[i * inc[0]], xp[i * inc[1]], yp[i * inc[2]]);
      }
    }
  };
  // One flat row when every operand is contiguous or a single broadcast value.
  auto flat = [](const array& a) { return a.flags().row_contiguous || a.data_size() == 1; };
  if (flat(cond) && flat(xa) && flat(ya)) {
    auto inc = [](const array& a) -> int64_t { return a.flags().row_contiguous ? 1 : 0; };
    const std::array<int64_t, 4> incs{inc(cond), inc(xa), inc(ya), 1};
    cpu::parallel_for(o.size(), cpu::kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      row({lo * incs[0], lo * incs[1], lo * incs[2], lo}, hi - lo, incs);
    });
    return;
  }
  cpu::for_each_row<4>(o.shape(), {&cond.strides(), &xa.strides(), &ya.strides(), &o.strides()},
                       row, /*parallel=*/true);
}

}  // namespace

void Select::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  out[0].allocate();
  cpu::dispatch_all(in[1].dtype(), [&](auto t) {
    select_loop<typename decltype(t)::type>(in[0], in[1], in[2], out[0]);
  });
}

void AsType::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::copy_into(in[0], out[0]);
}

void StopGradient::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  out[0].set_view(x, x.strides(), 0, x.data_size(), x.flags());
}

}  // namespace mfx
