// The shared expression emitter of the MLIR back ends (internal to
// compiler/mlir): element types in memory and registers, the conversions
// between them, every Unary/Binary op, casts, and reduction combiners. The
// CPU and GPU schedules in emit.cpp both build on it.
#pragma once

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "compiler/codegen.h"
#include "compiler/kernel_ir.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mfx::compiler::detail {

inline bool is_unsigned_dt(Dtype t) {
  return t == bool_ || t == uint8;
}
inline bool is_half(Dtype t) {
  return t == float16 || t == bfloat16;
}

// ------------------------------------------------------------------ emitter
// Values in registers ("compute" types): bool i1, halves f32, others native.
// In memory: bool i8, bfloat16 i16 (converted by hand, round-to-nearest-even),
// float16 f16. Locals hold compute values (bool as i8).
class Emitter {
 public:
  Emitter(mlir::OpBuilder& b, mlir::Location loc, mlir::ModuleOp module, Target target,
          const CodegenOptions& opts)
      : b(b), loc(loc), module_(module), target_(target), fast_(opts.fast_math) {}

  mlir::OpBuilder& b;
  mlir::Location loc;

  bool gpu() const { return target_ != Target::Cpu; }
  bool fast() const { return fast_; }

  mlir::Type storage_type(Dtype t) {
    switch (t) {
      case Dtype::bool_:
      case Dtype::uint8:
        return b.getI8Type();
      case Dtype::int32:
        return b.getI32Type();
      case Dtype::int64:
        return b.getI64Type();
      case Dtype::float16:
        return b.getF16Type();
      case Dtype::bfloat16:
        return b.getI16Type();
      case Dtype::float32:
        return b.getF32Type();
      case Dtype::float64:
        return b.getF64Type();
    }
    return {};
  }
  mlir::Type reg_type(Dtype t) {
    if (t == bool_) return b.getI1Type();
    if (is_half(t)) return b.getF32Type();
    return storage_type(t);
  }
  mlir::Type local_type(Dtype t) { return t == bool_ ? b.getI8Type() : reg_type(t); }

  // ---- constants and index helpers
  mlir::Value idx(int64_t v) { return b.create<mlir::arith::ConstantIndexOp>(loc, v); }
  mlir::Value i64(int64_t v) { return b.create<mlir::arith::ConstantIntOp>(loc, v, 64); }
  mlir::Value int_const(int64_t v, mlir::Type t) {
    return b.create<mlir::arith::ConstantIntOp>(loc, v, t);
  }
  mlir::Value float_const(double v, mlir::Type t) {
    return b.create<mlir::arith::ConstantFloatOp>(loc, llvm::APFloat(v), cast<mlir::FloatType>(t));
  }
  mlir::Value typed_const(double v, mlir::Type t) {
    if (auto ft = dyn_cast<mlir::FloatType>(t)) {
      if (ft.isF32())
        return b.create<mlir::arith::ConstantOp>(loc, b.getF32FloatAttr(static_cast<float>(v)));
      return b.create<mlir::arith::ConstantOp>(loc, b.getF64FloatAttr(v));
    }
    return int_const(static_cast<int64_t>(v), t);
  }
  mlir::Value const_of(double v, Dtype dt) {
    if (dt == float16) v = static_cast<float>(float16_t(static_cast<float>(v)));
    if (dt == bfloat16) v = static_cast<float>(bfloat16_t(static_cast<float>(v)));
    if (dt == bool_) return int_const(v != 0 ? 1 : 0, b.getI1Type());
    if (dt == uint8)
      return int_const(static_cast<int64_t>(static_cast<uint8_t>(static_cast<int64_t>(v))),
                       b.getI8Type());
    return typed_const(v, reg_type(dt));
  }
  mlir::Value to_index(mlir::Value v) {
    return v.getType().isIndex() ? v : b.create<mlir::arith::IndexCastOp>(loc, b.getIndexType(), v);
  }
  mlir::Value to_i64(mlir::Value v) {
    return v.getType().isIndex() ? b.create<mlir::arith::IndexCastOp>(loc, b.getI64Type(), v) : v;
  }

  // Flat index -> per-axis indices (row-major), all `index` typed.
  mlir::SmallVector<mlir::Value> unflatten(mlir::Value flat, mlir::ArrayRef<int64_t> extents) {
    mlir::SmallVector<mlir::Value> out(extents.size());
    for (int a = static_cast<int>(extents.size()) - 1; a >= 0; --a) {
      if (a == 0) {
        out[a] = flat;
      } else {
        mlir::Value e = idx(extents[a]);
        out[a] = b.create<mlir::arith::RemUIOp>(loc, flat, e);
        flat = b.create<mlir::arith::DivUIOp>(loc, flat, e);
      }
    }
    return out;
  }

  // ---- conversions between memory and registers
  mlir::Value bf16_bits_to_f32(mlir::Value bits16) {
    mlir::Value w = b.create<mlir::arith::ExtUIOp>(loc, b.getI32Type(), bits16);
    w = b.create<mlir::arith::ShLIOp>(loc, w, int_const(16, b.getI32Type()));
    return b.create<mlir::arith::BitcastOp>(loc, b.getF32Type(), w);
  }
  // Same rounding as mfx::bfloat16_t: nearest-even, NaN stays a quiet NaN.
  mlir::Value f32_to_bf16_bits(mlir::Value f) {
    mlir::Type i32 = b.getI32Type();
    mlir::Value u = b.create<mlir::arith::BitcastOp>(loc, i32, f);
    mlir::Value hi = b.create<mlir::arith::ShRUIOp>(loc, u, int_const(16, i32));
    mlir::Value lsb = b.create<mlir::arith::AndIOp>(loc, hi, int_const(1, i32));
    mlir::Value bias = b.create<mlir::arith::AddIOp>(loc, lsb, int_const(0x7fff, i32));
    mlir::Value rounded = b.create<mlir::arith::ShRUIOp>(
        loc, b.create<mlir::arith::AddIOp>(loc, u, bias), int_const(16, i32));
    mlir::Value quiet = b.create<mlir::arith::OrIOp>(loc, hi, int_const(0x40, i32));
    mlir::Value nan = b.create<mlir::arith::CmpFOp>(loc, mlir::arith::CmpFPredicate::UNO, f, f);
    mlir::Value r = b.create<mlir::arith::SelectOp>(loc, nan, quiet, rounded);
    return b.create<mlir::arith::TruncIOp>(loc, b.getI16Type(), r);
  }
  mlir::Value from_storage(mlir::Value v, Dtype t) {
    switch (t) {
      case Dtype::bool_:
        return b.create<mlir::arith::CmpIOp>(loc, mlir::arith::CmpIPredicate::ne, v,
                                             int_const(0, b.getI8Type()));
      case Dtype::float16:
        return b.create<mlir::arith::ExtFOp>(loc, b.getF32Type(), v);
      case Dtype::bfloat16:
        return bf16_bits_to_f32(v);
      default:
        return v;
    }
  }
  mlir::Value to_storage(mlir::Value v, Dtype t) {
    switch (t) {
      case Dtype::bool_:
        return b.create<mlir::arith::ExtUIOp>(loc, b.getI8Type(), v);
      case Dtype::float16:
        return b.create<mlir::arith::TruncFOp>(loc, b.getF16Type(), v);
      case Dtype::bfloat16:
        return f32_to_bf16_bits(v);
      default:
        return v;
    }
  }
  // Halves compute in float32 but round after every operation, like eager.
  mlir::Value round_to(mlir::Value v, Dtype t) {
    if (t == float16)
      return b.create<mlir::arith::ExtFOp>(
          loc, b.getF32Type(), b.create<mlir::arith::TruncFOp>(loc, b.getF16Type(), v).getResult());
    if (t == bfloat16) return bf16_bits_to_f32(f32_to_bf16_bits(v));
    return v;
  }
  mlir::Value local_in(mlir::Value v, Dtype t) {
    return t == bool_ ? b.create<mlir::arith::ExtUIOp>(loc, b.getI8Type(), v).getResult() : v;
  }
  mlir::Value local_out(mlir::Value v, Dtype t) {
    return t == bool_ ? b.create<mlir::arith::CmpIOp>(loc, mlir::arith::CmpIPredicate::ne, v,
                                                      int_const(0, b.getI8Type()))
                            .getResult()
                      : v;
  }

  // ---- float arithmetic with the mode's fastmath flags
  mlir::arith::FastMathFlagsAttr fm() {
    // No arcp/afn: LLVM would turn 1/sqrt(x) into rsqrt estimates (NaN at 0).
    auto f = fast_ ? mlir::arith::FastMathFlags::reassoc | mlir::arith::FastMathFlags::contract
                   : mlir::arith::FastMathFlags::none;
    return mlir::arith::FastMathFlagsAttr::get(b.getContext(), f);
  }
  mlir::Value addf(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::AddFOp>(loc, x, y, fm());
  }
  mlir::Value subf(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::SubFOp>(loc, x, y, fm());
  }
  mlir::Value mulf(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::MulFOp>(loc, x, y, fm());
  }
  mlir::Value divf(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::DivFOp>(loc, x, y, fm());
  }
  mlir::Value cmpf(mlir::arith::CmpFPredicate p, mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::CmpFOp>(loc, p, x, y);
  }
  mlir::Value cmpi(mlir::arith::CmpIPredicate p, mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::CmpIOp>(loc, p, x, y);
  }
  mlir::Value sel(mlir::Value c, mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::SelectOp>(loc, c, x, y);
  }
  mlir::Value isnan(mlir::Value x) { return cmpf(mlir::arith::CmpFPredicate::UNO, x, x); }

  // libm on the CPU where LLVM has no accurate intrinsic (exact mode, and
  // float64 in fast mode, which the polynomial approximations do not cover).
  bool use_libm(mlir::Type t) { return !gpu() && (!fast_ || t.isF64()); }
  mlir::Value libm(const char* name32, mlir::ValueRange xs) {
    mlir::Type t = xs[0].getType();
    std::string name = t.isF64() ? std::string(name32, std::strlen(name32) - 1) : name32;
    if (!module_.lookupSymbol<mlir::func::FuncOp>(name)) {
      mlir::OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(module_.getBody());
      mlir::SmallVector<mlir::Type> ins(xs.size(), t);
      auto f = b.create<mlir::func::FuncOp>(loc, name, b.getFunctionType(ins, {t}));
      f.setPrivate();
    }
    return b.create<mlir::func::CallOp>(loc, name, mlir::TypeRange{t}, xs).getResult(0);
  }

  // ---- float32 exp/log/log1p/tanh/sigmoid of the eager kernels
  // (lib/cpu/fast_math.h: branch-free, <= 1-2 ulp), operation for operation,
  // for exact mode on the CPU: they vectorise where libm calls do not, and
  // jit then computes what eager computes.
  bool eager_poly(mlir::Type t) { return !gpu() && !fast_ && t.isF32(); }
  mlir::Value f(double v) { return typed_const(v, b.getF32Type()); }
  mlir::Value i32(int64_t v) { return int_const(v, b.getI32Type()); }
  mlir::Value bits(mlir::Value x) {
    return b.create<mlir::arith::BitcastOp>(loc, b.getI32Type(), x);
  }
  mlir::Value from_bits(mlir::Value i) {
    return b.create<mlir::arith::BitcastOp>(loc, b.getF32Type(), i);
  }
  mlir::Value pow2i(mlir::Value n) {  // 2^n for n in [-126, 127] from the exponent field
    return from_bits(b.create<mlir::arith::ShLIOp>(
        loc, b.create<mlir::arith::AddIOp>(loc, n, i32(127)), i32(23)));
  }
  mlir::Value lt(mlir::Value x, mlir::Value y) {
    return cmpf(mlir::arith::CmpFPredicate::OLT, x, y);
  }
  mlir::Value poly_exp(mlir::Value x) {
    mlir::Value c = sel(lt(x, f(-104)), f(-104), x);
    c = sel(lt(f(89), c), f(89), c);
    const mlir::Value magic = f(12582912.0);
    mlir::Value nf = subf(addf(mulf(c, f(1.44269504088896341)), magic), magic);
    mlir::Value r = subf(c, mulf(nf, f(0.693359375)));
    r = subf(r, mulf(nf, f(-2.12194440e-4)));
    mlir::Value p = f(1.375140739e-03);
    for (double k : {8.368915878e-03, 4.166953266e-02, 1.666651815e-01, 4.999998808e-01}) {
      p = addf(mulf(p, r), f(k));
    }
    p = addf(f(1), addf(r, mulf(mulf(r, r), p)));
    mlir::Value n = b.create<mlir::arith::FPToSIOp>(loc, b.getI32Type(), nf);
    mlir::Value n1 = b.create<mlir::arith::ShRSIOp>(loc, n, i32(1));
    mlir::Value y = mulf(mulf(p, pow2i(n1)), pow2i(b.create<mlir::arith::SubIOp>(loc, n, n1)));
    return sel(isnan(x), x, y);
  }
  mlir::Value poly_log(mlir::Value x) {
    mlir::Value sub = lt(x, f(1.17549435e-38));
    mlir::Value xs = sel(sub, mulf(x, f(8388608.0)), x);
    mlir::Value kadj = sel(sub, i32(-23), i32(0));
    mlir::Value ix = b.create<mlir::arith::AddIOp>(loc, bits(xs), i32(0x3f800000 - 0x3f3504f3));
    mlir::Value k = b.create<mlir::arith::AddIOp>(
        loc,
        b.create<mlir::arith::SubIOp>(loc, b.create<mlir::arith::ShRUIOp>(loc, ix, i32(23)),
                                      i32(127)),
        kadj);
    mlir::Value m = from_bits(b.create<mlir::arith::AddIOp>(
        loc, b.create<mlir::arith::AndIOp>(loc, ix, i32(0x007fffff)), i32(0x3f3504f3)));
    mlir::Value fr = subf(m, f(1));
    mlir::Value s = divf(fr, addf(f(2), fr));
    mlir::Value z = mulf(s, s);
    mlir::Value R = f(1.81818182e-1);
    for (double k : {2.22222222e-1, 2.85714286e-1, 4.0e-1, 6.66666667e-1}) {
      R = addf(mulf(R, z), f(k));
    }
    R = mulf(R, z);
    mlir::Value hfsq = mulf(mulf(f(0.5), fr), fr);
    mlir::Value kf = b.create<mlir::arith::SIToFPOp>(loc, b.getF32Type(), k);
    mlir::Value y =
        subf(mulf(kf, f(6.93138123e-1)),
             subf(subf(hfsq, addf(mulf(s, addf(hfsq, R)), mulf(kf, f(9.05800061e-6)))), fr));
    const double inf = std::numeric_limits<double>::infinity();
    y = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, x, f(inf)), f(inf), y);
    y = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, x, f(0)), f(-inf), y);
    y = sel(lt(x, f(0)), f(std::numeric_limits<double>::quiet_NaN()), y);
    return sel(isnan(x), x, y);
  }
  mlir::Value poly_log1p(mlir::Value x) {
    const double inf = std::numeric_limits<double>::infinity();
    mlir::Value u = addf(f(1), x);
    mlir::Value y = addf(poly_log(u), divf(subf(x, subf(u, f(1))), u));
    y = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, u, f(inf)), f(inf), y);
    y = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, u, f(0)), f(-inf), y);
    y = sel(lt(x, f(-1)), f(std::numeric_limits<double>::quiet_NaN()), y);
    mlir::Value keep =
        b.create<mlir::arith::OrIOp>(loc, cmpf(mlir::arith::CmpFPredicate::OEQ, x, f(0)), isnan(x));
    return sel(keep, x, y);
  }
  mlir::Value poly_tanh(mlir::Value x) {
    mlir::Value sign =
        b.create<mlir::arith::AndIOp>(loc, bits(x), i32(static_cast<int32_t>(0x80000000u)));
    mlir::Value a = from_bits(b.create<mlir::arith::AndIOp>(loc, bits(x), i32(0x7fffffff)));
    mlir::Value z = mulf(a, a);
    mlir::Value p = f(2.18273350e-3);
    for (double k :
         {-8.22019298e-3, 2.17176992e-2, -5.39497957e-2, 1.33332297e-1, -3.33333314e-1}) {
      p = addf(mulf(p, z), f(k));
    }
    mlir::Value small = addf(a, mulf(mulf(a, z), p));
    mlir::Value ac = sel(lt(f(10), a), f(10), a);
    mlir::Value large = subf(f(1), divf(f(2), addf(poly_exp(mulf(f(2), ac)), f(1))));
    mlir::Value y = sel(lt(a, f(0.625)), small, large);
    return from_bits(b.create<mlir::arith::OrIOp>(loc, bits(y), sign));
  }
  mlir::Value poly_sigmoid(mlir::Value x) {
    mlir::Value a = from_bits(b.create<mlir::arith::AndIOp>(loc, bits(x), i32(0x7fffffff)));
    mlir::Value e = poly_exp(b.create<mlir::arith::NegFOp>(loc, a));
    return divf(sel(lt(x, f(0)), e, f(1)), addf(f(1), e));
  }

  // ---- expressions
  mlir::Value unary(UnaryOp op, mlir::Value x, Dtype dt) {
    mlir::Type t = x.getType();
    const bool fl = is_floating(dt);
    switch (op) {
      case UnaryOp::Negative:
        return fl ? b.create<mlir::arith::NegFOp>(loc, x, fm()).getResult()
                  : b.create<mlir::arith::SubIOp>(loc, int_const(0, t), x).getResult();
      case UnaryOp::Abs:
        if (fl) return b.create<mlir::math::AbsFOp>(loc, x);
        if (is_unsigned_dt(dt)) return x;
        return sel(cmpi(mlir::arith::CmpIPredicate::slt, x, int_const(0, t)),
                   b.create<mlir::arith::SubIOp>(loc, int_const(0, t), x), x);
      case UnaryOp::Sign: {
        if (dt == bool_) return x;
        mlir::Value zero = typed_const(0, t), one = typed_const(1, t);
        if (fl) {
          mlir::Value r =
              sel(cmpf(mlir::arith::CmpFPredicate::OGT, x, zero), one,
                  sel(cmpf(mlir::arith::CmpFPredicate::OLT, x, zero), typed_const(-1, t), zero));
          return sel(isnan(x), x, r);
        }
        if (is_unsigned_dt(dt))
          return sel(cmpi(mlir::arith::CmpIPredicate::ne, x, zero), one, zero);
        return sel(cmpi(mlir::arith::CmpIPredicate::sgt, x, zero), one,
                   sel(cmpi(mlir::arith::CmpIPredicate::slt, x, zero), int_const(-1, t), zero));
      }
      case UnaryOp::Square:
        if (dt == bool_) return x;
        return fl ? mulf(x, x) : b.create<mlir::arith::MulIOp>(loc, x, x).getResult();
      case UnaryOp::LogicalNot:
        return b.create<mlir::arith::XOrIOp>(loc, x, int_const(1, t));
      case UnaryOp::IsNan:
        return fl ? isnan(x) : int_const(0, b.getI1Type());
      case UnaryOp::IsInf:
        if (!fl) return int_const(0, b.getI1Type());
        return cmpf(mlir::arith::CmpFPredicate::OEQ, b.create<mlir::math::AbsFOp>(loc, x),
                    typed_const(std::numeric_limits<double>::infinity(), t));
      case UnaryOp::IsFinite:
        if (!fl) return int_const(1, b.getI1Type());
        return cmpf(mlir::arith::CmpFPredicate::OLT, b.create<mlir::math::AbsFOp>(loc, x),
                    typed_const(std::numeric_limits<double>::infinity(), t));
      case UnaryOp::Exp:
        if (eager_poly(t)) return poly_exp(x);
        return b.create<mlir::math::ExpOp>(loc, x);
      case UnaryOp::Log:
        if (eager_poly(t)) return poly_log(x);
        return b.create<mlir::math::LogOp>(loc, x);
      case UnaryOp::Log1p:
        if (eager_poly(t)) return poly_log1p(x);
        return use_libm(t) ? libm("log1pf", x) : b.create<mlir::math::Log1pOp>(loc, x).getResult();
      case UnaryOp::Expm1:
        return use_libm(t) ? libm("expm1f", x) : b.create<mlir::math::ExpM1Op>(loc, x).getResult();
      case UnaryOp::Sqrt:
        return b.create<mlir::math::SqrtOp>(loc, x);
      case UnaryOp::Rsqrt:
        return divf(typed_const(1, t), b.create<mlir::math::SqrtOp>(loc, x));
      case UnaryOp::Reciprocal:
        return divf(typed_const(1, t), x);
      case UnaryOp::Sin:
        return b.create<mlir::math::SinOp>(loc, x);
      case UnaryOp::Cos:
        return b.create<mlir::math::CosOp>(loc, x);
      case UnaryOp::Tan:
        return gpu() ? b.create<mlir::math::TanOp>(loc, x).getResult() : libm("tanf", x);
      case UnaryOp::Arctan:
        return use_libm(t) ? libm("atanf", x) : b.create<mlir::math::AtanOp>(loc, x).getResult();
      case UnaryOp::Tanh:
        if (eager_poly(t)) return poly_tanh(x);
        return use_libm(t) ? libm("tanhf", x) : b.create<mlir::math::TanhOp>(loc, x).getResult();
      case UnaryOp::Erf:
        return erf(x);
      case UnaryOp::Sigmoid: {
        if (eager_poly(t)) return poly_sigmoid(x);
        // e = exp(-|x|) never overflows; x >= 0: 1/(1+e), else e/(1+e).
        mlir::Value e = b.create<mlir::math::ExpOp>(
            loc, b.create<mlir::arith::NegFOp>(loc, b.create<mlir::math::AbsFOp>(loc, x)));
        mlir::Value d = addf(typed_const(1, t), e);
        return sel(cmpf(mlir::arith::CmpFPredicate::OGE, x, typed_const(0, t)),
                   divf(typed_const(1, t), d), divf(e, d));
      }
      case UnaryOp::Erfinv:
        return erfinv(x);
      case UnaryOp::Floor:
        return b.create<mlir::math::FloorOp>(loc, x);
      case UnaryOp::Ceil:
        return b.create<mlir::math::CeilOp>(loc, x);
      case UnaryOp::Round:
        return b.create<mlir::math::RoundEvenOp>(loc, x);
    }
    throw std::logic_error("[codegen] unknown unary op");
  }

  mlir::Value erf(mlir::Value x) {
    return use_libm(x.getType()) ? libm("erff", x)
                                 : b.create<mlir::math::ErfOp>(loc, x).getResult();
  }

  // The eager kernel's algorithm (Giles' approximation in double refined by
  // two Newton steps on erf), so that both agree to the last bit or two.
  mlir::Value erfinv(mlir::Value y) {
    mlir::Type t = y.getType(), f64 = b.getF64Type();
    mlir::Value x = t.isF64() ? y : b.create<mlir::arith::ExtFOp>(loc, f64, y).getResult();
    auto c = [&](double v) { return typed_const(v, f64); };
    auto fma = [&](mlir::Value p, mlir::Value w, double k) { return addf(c(k), mulf(p, w)); };
    mlir::Value one = c(1);
    mlir::Value w = b.create<mlir::arith::NegFOp>(
        loc, b.create<mlir::math::LogOp>(loc, mulf(subf(one, x), addf(one, x))));
    mlir::Value w1 = subf(w, c(2.5));
    mlir::Value p1 = c(2.81022636e-08);
    for (double k : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941}) {
      p1 = fma(p1, w1, k);
    }
    mlir::Value w2 = subf(b.create<mlir::math::SqrtOp>(loc, w), c(3.0));
    mlir::Value p2 = c(-0.000200214257);
    for (double k : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682}) {
      p2 = fma(p2, w2, k);
    }
    mlir::Value p = sel(cmpf(mlir::arith::CmpFPredicate::OLT, w, c(5.0)), p1, p2);
    mlir::Value r = mulf(p, x);
    for (int i = 0; i < 2; ++i) {
      mlir::Value e = subf(erf(r), x);
      mlir::Value d =
          mulf(c(1.1283791670955126),
               b.create<mlir::math::ExpOp>(loc, b.create<mlir::arith::NegFOp>(loc, mulf(r, r))));
      r = subf(r, divf(e, d));
    }
    mlir::Value res = t.isF64() ? r : b.create<mlir::arith::TruncFOp>(loc, t, r).getResult();
    // |y| >= 1: +-inf at +-1, NaN beyond (NaN input stays NaN through r).
    mlir::Value inf = typed_const(std::numeric_limits<double>::infinity(), t);
    mlir::Value ninf = typed_const(-std::numeric_limits<double>::infinity(), t);
    mlir::Value nan = typed_const(std::numeric_limits<double>::quiet_NaN(), t);
    mlir::Value one_t = typed_const(1, t), mone_t = typed_const(-1, t);
    res = sel(cmpf(mlir::arith::CmpFPredicate::OGT, y, one_t), nan, res);
    res = sel(cmpf(mlir::arith::CmpFPredicate::OLT, y, mone_t), nan, res);
    res = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, y, one_t), inf, res);
    res = sel(cmpf(mlir::arith::CmpFPredicate::OEQ, y, mone_t), ninf, res);
    return res;
  }

  // Python integer division: floor; x / 0 == 0; INT_MIN / -1 wraps.
  mlir::Value int_floor_div(mlir::Value x, mlir::Value y, Dtype dt) {
    mlir::Type t = x.getType();
    mlir::Value zero = int_const(0, t);
    mlir::Value y0 = cmpi(mlir::arith::CmpIPredicate::eq, y, zero);
    if (is_unsigned_dt(dt)) {
      mlir::Value safe = sel(y0, int_const(1, t), y);
      return sel(y0, zero, b.create<mlir::arith::DivUIOp>(loc, x, safe));
    }
    mlir::Value ym1 = cmpi(mlir::arith::CmpIPredicate::eq, y, int_const(-1, t));
    mlir::Value bad = b.create<mlir::arith::OrIOp>(loc, y0, ym1);
    mlir::Value safe = sel(bad, int_const(1, t), y);
    mlir::Value q = b.create<mlir::arith::DivSIOp>(loc, x, safe);
    mlir::Value r = b.create<mlir::arith::RemSIOp>(loc, x, safe);
    mlir::Value adjust = b.create<mlir::arith::AndIOp>(
        loc, cmpi(mlir::arith::CmpIPredicate::ne, r, zero),
        b.create<mlir::arith::XOrIOp>(loc, cmpi(mlir::arith::CmpIPredicate::slt, x, zero),
                                      cmpi(mlir::arith::CmpIPredicate::slt, y, zero)));
    q = sel(adjust, b.create<mlir::arith::SubIOp>(loc, q, int_const(1, t)), q);
    q = sel(ym1, b.create<mlir::arith::SubIOp>(loc, zero, x), q);
    return sel(y0, zero, q);
  }
  mlir::Value int_remainder(mlir::Value x, mlir::Value y, Dtype dt) {
    mlir::Type t = x.getType();
    mlir::Value zero = int_const(0, t);
    mlir::Value y0 = cmpi(mlir::arith::CmpIPredicate::eq, y, zero);
    if (is_unsigned_dt(dt)) {
      mlir::Value safe = sel(y0, int_const(1, t), y);
      return sel(y0, zero, b.create<mlir::arith::RemUIOp>(loc, x, safe));
    }
    mlir::Value ym1 = cmpi(mlir::arith::CmpIPredicate::eq, y, int_const(-1, t));
    mlir::Value bad = b.create<mlir::arith::OrIOp>(loc, y0, ym1);
    mlir::Value safe = sel(bad, int_const(1, t), y);
    mlir::Value r = b.create<mlir::arith::RemSIOp>(loc, x, safe);
    mlir::Value adjust = b.create<mlir::arith::AndIOp>(
        loc, cmpi(mlir::arith::CmpIPredicate::ne, r, zero),
        b.create<mlir::arith::XOrIOp>(loc, cmpi(mlir::arith::CmpIPredicate::slt, r, zero),
                                      cmpi(mlir::arith::CmpIPredicate::slt, y, zero)));
    r = sel(adjust, b.create<mlir::arith::AddIOp>(loc, r, y), r);
    return sel(bad, zero, r);
  }
  // Square-and-multiply over every exponent bit; negative exponents give
  // 1, +-1 or 0 like the eager kernel.
  mlir::Value int_power(mlir::Value x, mlir::Value e, Dtype dt) {
    mlir::Type t = x.getType();
    unsigned bits = t.getIntOrFloatBitWidth();
    mlir::Value one = int_const(1, t);
    auto loop =
        b.create<mlir::scf::ForOp>(loc, idx(0), idx(bits), idx(1), mlir::ValueRange{one, x, e});
    {
      mlir::OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      mlir::Value r = loop.getRegionIterArgs()[0], base = loop.getRegionIterArgs()[1],
                  ee = loop.getRegionIterArgs()[2];
      mlir::Value odd = cmpi(mlir::arith::CmpIPredicate::ne,
                             b.create<mlir::arith::AndIOp>(loc, ee, one), int_const(0, t));
      mlir::Value r2 = sel(odd, b.create<mlir::arith::MulIOp>(loc, r, base), r);
      mlir::Value base2 = b.create<mlir::arith::MulIOp>(loc, base, base);
      mlir::Value e2 = b.create<mlir::arith::ShRUIOp>(loc, ee, one);
      b.create<mlir::scf::YieldOp>(loc, mlir::ValueRange{r2, base2, e2});
    }
    mlir::Value r = loop.getResult(0);
    if (is_unsigned_dt(dt)) return r;
    mlir::Value zero = int_const(0, t);
    mlir::Value neg = cmpi(mlir::arith::CmpIPredicate::slt, e, zero);
    mlir::Value odd =
        cmpi(mlir::arith::CmpIPredicate::ne, b.create<mlir::arith::AndIOp>(loc, e, one), zero);
    mlir::Value minus_one = int_const(-1, t);
    mlir::Value neg_r = sel(
        cmpi(mlir::arith::CmpIPredicate::eq, x, one), one,
        sel(cmpi(mlir::arith::CmpIPredicate::eq, x, minus_one), sel(odd, minus_one, one), zero));
    return sel(neg, neg_r, r);
  }

  mlir::Value binary(BinaryOp op, mlir::Value x, mlir::Value y, Dtype dt) {
    const bool fl = is_floating(dt);
    const bool un = is_unsigned_dt(dt);
    mlir::Type t = x.getType();
    using P = mlir::arith::CmpIPredicate;
    using F = mlir::arith::CmpFPredicate;
    auto cmp = [&](F fp, P sp, P up) { return fl ? cmpf(fp, x, y) : cmpi(un ? up : sp, x, y); };
    switch (op) {
      case BinaryOp::Add:
        if (dt == bool_) return b.create<mlir::arith::OrIOp>(loc, x, y);
        return fl ? addf(x, y) : b.create<mlir::arith::AddIOp>(loc, x, y).getResult();
      case BinaryOp::Subtract:
        return fl ? subf(x, y) : b.create<mlir::arith::SubIOp>(loc, x, y).getResult();
      case BinaryOp::Multiply:
        if (dt == bool_) return b.create<mlir::arith::AndIOp>(loc, x, y);
        return fl ? mulf(x, y) : b.create<mlir::arith::MulIOp>(loc, x, y).getResult();
      case BinaryOp::Divide:
        return divf(x, y);
      case BinaryOp::FloorDivide:
        return fl ? b.create<mlir::math::FloorOp>(loc, divf(x, y)).getResult()
                  : int_floor_div(x, y, dt);
      case BinaryOp::Remainder: {
        if (!fl) return int_remainder(x, y, dt);
        // fmod, then moved to the divisor's sign (Python/numpy semantics).
        mlir::Value r = b.create<mlir::arith::RemFOp>(loc, x, y);
        mlir::Value zero = typed_const(0, t);
        mlir::Value fix = b.create<mlir::arith::AndIOp>(
            loc, cmpf(F::UNE, r, zero),
            b.create<mlir::arith::XOrIOp>(loc, cmpf(F::OLT, r, zero), cmpf(F::OLT, y, zero)));
        return sel(fix, addf(r, y), r);
      }
      case BinaryOp::Power:
        return fl ? b.create<mlir::math::PowFOp>(loc, x, y).getResult() : int_power(x, y, dt);
      case BinaryOp::Maximum:
      case BinaryOp::Minimum: {
        const bool mx = op == BinaryOp::Maximum;
        if (dt == bool_)
          return mx ? b.create<mlir::arith::OrIOp>(loc, x, y).getResult()
                    : b.create<mlir::arith::AndIOp>(loc, x, y).getResult();
        if (fl) {
          // NaN in x wins, then NaN in y (x > NaN is false): numpy semantics.
          mlir::Value c =
              b.create<mlir::arith::OrIOp>(loc, cmpf(mx ? F::OGT : F::OLT, x, y), isnan(x));
          return sel(c, x, y);
        }
        if (mx)
          return un ? b.create<mlir::arith::MaxUIOp>(loc, x, y).getResult()
                    : b.create<mlir::arith::MaxSIOp>(loc, x, y).getResult();
        return un ? b.create<mlir::arith::MinUIOp>(loc, x, y).getResult()
                  : b.create<mlir::arith::MinSIOp>(loc, x, y).getResult();
      }
      case BinaryOp::Arctan2:
        return use_libm(t) ? libm("atan2f", {x, y})
                           : b.create<mlir::math::Atan2Op>(loc, x, y).getResult();
      case BinaryOp::Equal:
        return cmp(F::OEQ, P::eq, P::eq);
      case BinaryOp::NotEqual:
        return cmp(F::UNE, P::ne, P::ne);
      case BinaryOp::Less:
        return cmp(F::OLT, P::slt, P::ult);
      case BinaryOp::LessEqual:
        return cmp(F::OLE, P::sle, P::ule);
      case BinaryOp::Greater:
        return cmp(F::OGT, P::sgt, P::ugt);
      case BinaryOp::GreaterEqual:
        return cmp(F::OGE, P::sge, P::uge);
      case BinaryOp::LogicalAnd:
        return b.create<mlir::arith::AndIOp>(loc, x, y);
      case BinaryOp::LogicalOr:
        return b.create<mlir::arith::OrIOp>(loc, x, y);
      case BinaryOp::LogicalXor:
        return b.create<mlir::arith::XOrIOp>(loc, x, y);
    }
    throw std::logic_error("[codegen] unknown binary op");
  }

  mlir::Value cast_to(mlir::Value v, Dtype from, Dtype to) {
    mlir::Type ft = v.getType(), tt = reg_type(to);
    if (from == to) return v;
    if (to == bool_) {
      return is_floating(from) ? cmpf(mlir::arith::CmpFPredicate::UNE, v, typed_const(0, ft))
                               : cmpi(mlir::arith::CmpIPredicate::ne, v, int_const(0, ft));
    }
    if (is_floating(from) && is_floating(to)) {
      mlir::Value r = v;
      if (ft.getIntOrFloatBitWidth() > tt.getIntOrFloatBitWidth())
        r = b.create<mlir::arith::TruncFOp>(loc, tt, v);
      if (ft.getIntOrFloatBitWidth() < tt.getIntOrFloatBitWidth())
        r = b.create<mlir::arith::ExtFOp>(loc, tt, v);
      return round_to(r, to);
    }
    if (is_floating(to)) {
      mlir::Value r = is_unsigned_dt(from)
                          ? b.create<mlir::arith::UIToFPOp>(loc, tt, v).getResult()
                          : b.create<mlir::arith::SIToFPOp>(loc, tt, v).getResult();
      return round_to(r, to);
    }
    if (is_floating(from)) {
      // Through int64 (int32 for uint8): wraps like the x86 conversions eager uses.
      mlir::Type wide = to == uint8 ? b.getI32Type() : tt;
      mlir::Value r = b.create<mlir::arith::FPToSIOp>(loc, wide, v);
      return wide == tt ? r : b.create<mlir::arith::TruncIOp>(loc, tt, r).getResult();
    }
    unsigned fw = ft.getIntOrFloatBitWidth(), tw = tt.getIntOrFloatBitWidth();
    if (fw == tw) return v;
    if (fw > tw) return b.create<mlir::arith::TruncIOp>(loc, tt, v);
    return is_unsigned_dt(from) ? b.create<mlir::arith::ExtUIOp>(loc, tt, v).getResult()
                                : b.create<mlir::arith::ExtSIOp>(loc, tt, v).getResult();
  }

  // ---- reductions: accumulator type, identity and combination
  // Exact CPU float sums and all float products accumulate in float64 like the
  // eager kernels; the GPU and fast mode keep the compute type.
  mlir::Type acc_type(ReduceOp op, Dtype dt) {
    mlir::Type t = reg_type(dt);
    if (is_floating(dt) && !gpu() && !fast_ && (op == ReduceOp::Sum || op == ReduceOp::Prod)) {
      return b.getF64Type();
    }
    return t;
  }
  mlir::Value identity(ReduceOp op, Dtype dt, mlir::Type t) {
    const bool fl = is_floating(dt);
    const double inf = std::numeric_limits<double>::infinity();
    switch (op) {
      case ReduceOp::Sum:
        return typed_const(0, t);
      case ReduceOp::Prod:
        return typed_const(1, t);
      case ReduceOp::All:
        return int_const(1, t);
      case ReduceOp::Any:
        return int_const(0, t);
      case ReduceOp::Max:
      case ReduceOp::Min: {
        const bool mx = op == ReduceOp::Max;
        if (fl) return typed_const(mx ? -inf : inf, t);
        unsigned w = t.getIntOrFloatBitWidth();
        if (is_unsigned_dt(dt)) return int_const(mx ? 0 : static_cast<int64_t>((1ull << w) - 1), t);
        llvm::APInt v = mx ? llvm::APInt::getSignedMinValue(w) : llvm::APInt::getSignedMaxValue(w);
        return b.create<mlir::arith::ConstantOp>(loc, b.getIntegerAttr(t, v));
      }
    }
    throw std::logic_error("[codegen] unknown reduce op");
  }
  // acc (+) x, both of the accumulator type; NaN propagates for Max/Min.
  // An accumulator wider than the values (exact CPU sums of float32 and
  // halves accumulate in float64).
  bool widened(mlir::Value acc, Dtype dt) { return acc.getType().isF64() && dt != float64; }
  mlir::Value combine(ReduceOp op, Dtype dt, mlir::Value acc, mlir::Value x) {
    const bool fl = is_floating(dt);
    switch (op) {
      case ReduceOp::Sum:
        if (fl && widened(acc, dt)) {
          // float32 values summed in float64: any order keeps ~29 spare bits,
          // so LLVM may vectorise the loop (the result stays deterministic).
          return b.create<mlir::arith::AddFOp>(
              loc, acc, x,
              mlir::arith::FastMathFlagsAttr::get(b.getContext(),
                                                  mlir::arith::FastMathFlags::reassoc));
        }
        return fl ? addf(acc, x) : b.create<mlir::arith::AddIOp>(loc, acc, x).getResult();
      case ReduceOp::Prod:
        return fl ? mulf(acc, x) : b.create<mlir::arith::MulIOp>(loc, acc, x).getResult();
      case ReduceOp::All:
        return b.create<mlir::arith::AndIOp>(loc, acc, x);
      case ReduceOp::Any:
        return b.create<mlir::arith::OrIOp>(loc, acc, x);
      case ReduceOp::Max:
      case ReduceOp::Min: {
        const bool mx = op == ReduceOp::Max;
        if (fl && fast_) {
          return mx ? b.create<mlir::arith::MaximumFOp>(loc, acc, x).getResult()
                    : b.create<mlir::arith::MinimumFOp>(loc, acc, x).getResult();
        }
        return binary(mx ? BinaryOp::Maximum : BinaryOp::Minimum, x, acc, dt);
      }
    }
    throw std::logic_error("[codegen] unknown reduce op");
  }
  mlir::Value acc_in(mlir::Value v, mlir::Type acc) {
    return v.getType() == acc ? v : b.create<mlir::arith::ExtFOp>(loc, acc, v).getResult();
  }
  mlir::Value acc_out(mlir::Value v, Dtype dt) {
    mlir::Type t = reg_type(dt);
    if (v.getType() != t) v = b.create<mlir::arith::TruncFOp>(loc, t, v);
    return round_to(v, dt);
  }

 private:
  mlir::ModuleOp module_;
  Target target_;
  bool fast_;
};

}  // namespace mfx::compiler::detail
