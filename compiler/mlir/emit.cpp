// Kernel IR -> MLIR (memref + scf + arith + math; gpu.func for CUDA). One
// expression emitter serves both targets; a PhaseSchedule decides how the
// points of a phase are visited and how partial reductions are combined
// (sequential loops on the CPU, threads/warps/blocks on the GPU).
#include "compiler/mlir/emit.h"
#include "compiler/kernel_access.h"
#include "compiler/mlir/expr_emitter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "llvm/Support/raw_ostream.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mfx::compiler::detail {

using namespace mlir;

std::unique_ptr<MLIRContext> make_context() {
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect, func::FuncDialect, gpu::GPUDialect,
                  LLVM::LLVMDialect, NVVM::NVVMDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, ub::UBDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  auto ctx = std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  ctx->loadAllAvailableDialects();
  return ctx;
}

std::string print(Operation* op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

namespace {

// ------------------------------------------------------------------ phases
using DomainFn = llvm::function_ref<void(ArrayRef<Value> domain)>;
// Reduction body: the domain point in, one value per reduction out.
using ValuesFn = llvm::function_ref<SmallVector<Value>(ArrayRef<Value> domain)>;

// How a phase's points are visited and how partial reductions combine.
class PhaseSchedule {
 public:
  explicit PhaseSchedule(Emitter& e) : e(e) {}
  virtual ~PhaseSchedule() = default;
  /// Calls `body` at every domain point (index values).
  virtual void map(const Phase& ph, DomainFn body) = 0;
  /// Folds values(domain) over the reduced axes; stores each reduction's
  /// result into its local at the kept point.
  virtual void reduce(const Phase& ph, ValuesFn values) = 0;
  /// Between phases: later phases may read what this one wrote.
  virtual void end_phase() {}

 protected:
  Emitter& e;

  struct Split {
    SmallVector<int> kept, reduced;
    SmallVector<int64_t> kept_ext, red_ext;
    int64_t kept_size = 1, red_size = 1;
  };
  static Split split(const Phase& ph) {
    Split s;
    for (int a = 0; a < static_cast<int>(ph.domain.size()); ++a) {
      bool r =
          std::find(ph.reduced_axes.begin(), ph.reduced_axes.end(), a) != ph.reduced_axes.end();
      (r ? s.reduced : s.kept).push_back(a);
      (r ? s.red_ext : s.kept_ext).push_back(ph.domain[a]);
      (r ? s.red_size : s.kept_size) *= ph.domain[a];
    }
    return s;
  }
  // Writes each reduction's finished accumulator into its local.
  void store_results(const Phase& ph, const Kernel& k, ArrayRef<Value> locals, ArrayRef<Value> accs,
                     ArrayRef<Value> kept_idx) {
    for (size_t i = 0; i < ph.reductions.size(); ++i) {
      const Reduction& r = ph.reductions[i];
      const LocalArray& l = k.locals[r.local];
      SmallVector<Value> at;
      if (kept_idx.empty()) {
        for (size_t d = 0; d < l.shape.size(); ++d) at.push_back(e.idx(0));
      } else {
        at.assign(kept_idx.begin(), kept_idx.end());
      }
      Value v = e.local_in(e.acc_out(accs[i], l.dtype), l.dtype);
      e.b.create<memref::StoreOp>(e.loc, v, locals[r.local], at);
    }
  }
  SmallVector<Value> identities(const Phase& ph, const Kernel& k) {
    SmallVector<Value> out;
    for (const auto& r : ph.reductions) {
      Dtype dt = k.locals[r.local].dtype;
      out.push_back(e.identity(r.op, dt, e.acc_type(r.op, dt)));
    }
    return out;
  }
  SmallVector<Value> fold(const Phase& ph, const Kernel& k, ValueRange accs, ArrayRef<Value> vals) {
    SmallVector<Value> out;
    for (size_t i = 0; i < ph.reductions.size(); ++i) {
      const auto& r = ph.reductions[i];
      Dtype dt = k.locals[r.local].dtype;
      out.push_back(e.combine(r.op, dt, accs[i], e.acc_in(vals[i], accs[i].getType())));
    }
    return out;
  }
  // for iv in [lb, ub) step s carrying `inits`; body returns the next values.
  SmallVector<Value> loop(Value lb, Value ub, Value step, ValueRange inits,
                          llvm::function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto f = e.b.create<scf::ForOp>(e.loc, lb, ub, step, inits);
    OpBuilder::InsertionGuard g(e.b);
    Block* blk = f.getBody();
    if (!blk->empty())
      e.b.setInsertionPoint(blk->getTerminator());
    else
      e.b.setInsertionPointToEnd(blk);
    SmallVector<Value> next = body(f.getInductionVar(), f.getRegionIterArgs());
    if (!inits.empty()) e.b.create<scf::YieldOp>(e.loc, next);
    return SmallVector<Value>(f.getResults().begin(), f.getResults().end());
  }
  static SmallVector<Value> merge_idx(const Split& s, ArrayRef<Value> kept, ArrayRef<Value> red) {
    SmallVector<Value> d(s.kept.size() + s.reduced.size());
    for (size_t i = 0; i < s.kept.size(); ++i) d[s.kept[i]] = kept[i];
    for (size_t i = 0; i < s.reduced.size(); ++i) d[s.reduced[i]] = red[i];
    return d;
  }

 public:
  const Kernel* kernel = nullptr;
  SmallVector<Value> locals;
};

// CPU: plain loop nests; kept axes outside, reduced axes inside carrying the
// accumulators (sequential order: exact mode is deterministic).
class CpuSchedule : public PhaseSchedule {
 public:
  using PhaseSchedule::PhaseSchedule;

  void map(const Phase& ph, DomainFn body) override {
    SmallVector<Value> d;
    const int inner = map_inner_axis(*kernel, ph);
    if (inner != static_cast<int>(ph.domain.size()) - 1) {
      // Another axis innermost (see kernel_access.h); the cuts follow the last.
      SmallVector<int> order;
      for (int a = 0; a < static_cast<int>(ph.domain.size()); ++a)
        if (a != inner) order.push_back(a);
      order.push_back(inner);
      d.assign(ph.domain.size(), Value());
      return nest_in_order(ph.domain, order, 0, d, body);
    }
    cuts_ = inner_cuts(ph);
    nest(ph.domain, 0, d, body);
    cuts_.clear();
  }

  void reduce(const Phase& ph, ValuesFn values) override {
    Split s = split(ph);
    SmallVector<Value> kept;
    nest(s.kept_ext, 0, kept, [&](ArrayRef<Value> kidx) {
      SmallVector<Value> red;
      SmallVector<Value> accs = reduce_nest(ph, s, kidx, 0, red, identities(ph, *kernel), values);
      store_results(ph, *kernel, locals, accs, kidx);
    });
  }

 private:
  // Where the innermost index of a map phase is compared with constants (a
  // concatenation along that axis: each point selects one of its inputs),
  // the loop runs in pieces between them: in each piece every comparison is
  // constant, LLVM folds the selects and the clamped indices, and the piece
  // is a unit-stride copy it vectorises instead of a loop of selects.
  static SmallVector<int64_t> inner_cuts(const Phase& ph) {
    if (ph.domain.empty()) return {};
    const int last = static_cast<int>(ph.domain.size()) - 1;
    const int64_t ext = ph.domain.back();
    std::set<int64_t> cuts;
    for (const auto& x : ph.exprs) {
      if (x.kind != ExprKind::Binary || x.operands.size() != 2) continue;
      const Expr& a = ph.exprs[x.operands[0]];
      const Expr& b = ph.exprs[x.operands[1]];
      if (a.kind != ExprKind::DomainIndex || a.axis != last || b.kind != ExprKind::Const) continue;
      const auto c = static_cast<int64_t>(b.value);
      switch (x.binary_op) {
        case BinaryOp::Less:
        case BinaryOp::GreaterEqual:
          cuts.insert(c);
          break;
        case BinaryOp::LessEqual:
        case BinaryOp::Greater:
          cuts.insert(c + 1);
          break;
        default:
          break;
      }
    }
    SmallVector<int64_t> out;
    for (int64_t c : cuts) {
      if (c > 0 && c < ext) out.push_back(c);
    }
    if (out.size() > kMaxCuts) out.clear();  // the body is emitted once per piece
    return out;
  }
  static constexpr size_t kMaxCuts = 4;

  void nest(ArrayRef<int64_t> ext, size_t a, SmallVector<Value>& idx, DomainFn body) {
    if (a == ext.size()) return body(idx);
    SmallVector<int64_t> bounds{0};
    if (a + 1 == ext.size()) bounds.append(cuts_.begin(), cuts_.end());
    bounds.push_back(ext[a]);
    for (size_t p = 0; p + 1 < bounds.size(); ++p) {
      loop(e.idx(bounds[p]), e.idx(bounds[p + 1]), e.idx(1), {}, [&](Value iv, ValueRange) {
        idx.push_back(iv);
        nest(ext, a + 1, idx, body);
        idx.pop_back();
        return SmallVector<Value>{};
      });
    }
  }
  // Loops over the axes in `order`, outermost first; idx stays in axis order.
  void nest_in_order(ArrayRef<int64_t> ext, ArrayRef<int> order, size_t a,
                     SmallVector<Value>& idx, DomainFn body) {
    if (a == order.size()) return body(idx);
    loop(e.idx(0), e.idx(ext[order[a]]), e.idx(1), {}, [&](Value iv, ValueRange) {
      idx[order[a]] = iv;
      nest_in_order(ext, order, a + 1, idx, body);
      return SmallVector<Value>{};
    });
  }
  SmallVector<int64_t> cuts_;  // of the map phase being emitted (inner_cuts)
  SmallVector<Value> reduce_nest(const Phase& ph, const Split& s, ArrayRef<Value> kidx, size_t a,
                                 SmallVector<Value>& ridx, ValueRange accs, ValuesFn values) {
    if (a == s.red_ext.size()) return fold(ph, *kernel, accs, values(merge_idx(s, kidx, ridx)));
    return loop(e.idx(0), e.idx(s.red_ext[a]), e.idx(1), accs, [&](Value iv, ValueRange it) {
      ridx.push_back(iv);
      auto r = reduce_nest(ph, s, kidx, a + 1, ridx, it, values);
      ridx.pop_back();
      return r;
    });
  }
};

// GPU, one thread block per grid point: threads stride over the flattened
// domain; full reductions combine per-thread partials with warp shuffles and
// shared memory; partial reductions give each kept point to one warp.
class GpuBlockSchedule : public PhaseSchedule {
 public:
  GpuBlockSchedule(Emitter& e, int threads) : PhaseSchedule(e), threads_(threads) {}

  Value tid, lane, warp;
  // Per reduction of full-reduce phases: shared scratch of 32 partials.
  std::map<std::pair<const Phase*, int>, Value> scratch;

  void map(const Phase& ph, DomainFn body) override {
    int64_t n = size_of(ph.domain);
    loop(tid, e.idx(n), e.idx(threads_), {}, [&](Value p, ValueRange) {
      body(e.unflatten(p, ph.domain));
      return SmallVector<Value>{};
    });
  }

  void reduce(const Phase& ph, ValuesFn values) override {
    Split s = split(ph);
    if (s.kept.empty()) return reduce_all(ph, s, values);
    const int warps = threads_ / 32;
    loop(warp, e.idx(s.kept_size), e.idx(warps), {}, [&](Value k, ValueRange) {
      SmallVector<Value> kidx = e.unflatten(k, s.kept_ext);
      auto accs = loop(
          lane, e.idx(s.red_size), e.idx(32), identities(ph, *kernel), [&](Value r, ValueRange it) {
            return fold(ph, *kernel, it, values(merge_idx(s, kidx, e.unflatten(r, s.red_ext))));
          });
      accs = warp_reduce(ph, accs);
      if_then(e.cmpi(arith::CmpIPredicate::eq, lane, e.idx(0)),
              [&] { store_results(ph, *kernel, locals, accs, kidx); });
      return SmallVector<Value>{};
    });
  }

  void end_phase() override { e.b.create<gpu::BarrierOp>(e.loc); }

 private:
  static int64_t size_of(ArrayRef<int64_t> s) {
    int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
  }
  void if_then(Value c, llvm::function_ref<void()> body) {
    auto op = e.b.create<scf::IfOp>(e.loc, c, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(e.b);
    e.b.setInsertionPoint(op.thenBlock()->getTerminator());
    body();
  }
  // Butterfly over the warp: every lane ends with the warp's result.
  SmallVector<Value> warp_reduce(const Phase& ph, SmallVector<Value> accs) {
    for (int off = 16; off >= 1; off /= 2) {
      for (size_t i = 0; i < accs.size(); ++i) {
        const auto& r = ph.reductions[i];
        accs[i] =
            e.combine(r.op, kernel->locals[r.local].dtype, accs[i], shuffle_xor(accs[i], off));
      }
    }
    return accs;
  }
  Value shuffle_xor(Value v, int off) {
    OpBuilder& b = e.b;
    Type t = v.getType();
    unsigned w = t.getIntOrFloatBitWidth();
    auto shfl = [&](Value x) {
      return b.create<gpu::ShuffleOp>(e.loc, x, off, 32, gpu::ShuffleMode::XOR).getShuffleResult();
    };
    if (w == 32) return shfl(v);
    if (w < 32) {
      Value x = b.create<arith::ExtUIOp>(e.loc, b.getI32Type(), v);
      return b.create<arith::TruncIOp>(e.loc, t, shfl(x));
    }
    Type i64 = b.getI64Type(), i32 = b.getI32Type();
    Value bits = t.isF64() ? b.create<arith::BitcastOp>(e.loc, i64, v).getResult() : v;
    Value lo = b.create<arith::TruncIOp>(e.loc, i32, bits);
    Value hi = b.create<arith::TruncIOp>(
        e.loc, i32, b.create<arith::ShRUIOp>(e.loc, bits, e.int_const(32, i64)));
    Value lo2 = b.create<arith::ExtUIOp>(e.loc, i64, shfl(lo));
    Value hi2 = b.create<arith::ShLIOp>(e.loc, b.create<arith::ExtUIOp>(e.loc, i64, shfl(hi)),
                                        e.int_const(32, i64));
    Value r = b.create<arith::OrIOp>(e.loc, lo2, hi2);
    return t.isF64() ? b.create<arith::BitcastOp>(e.loc, t, r).getResult() : r;
  }
  void reduce_all(const Phase& ph, const Split& s, ValuesFn values) {
    auto accs =
        loop(tid, e.idx(s.red_size), e.idx(threads_), identities(ph, *kernel),
             [&](Value p, ValueRange it) {
               return fold(ph, *kernel, it, values(merge_idx(s, {}, e.unflatten(p, s.red_ext))));
             });
    accs = warp_reduce(ph, accs);
    const int warps = threads_ / 32;
    if (warps == 1) {
      if_then(e.cmpi(arith::CmpIPredicate::eq, tid, e.idx(0)),
              [&] { store_results(ph, *kernel, locals, accs, {}); });
      return;
    }
    Value lane0 = e.cmpi(arith::CmpIPredicate::eq, lane, e.idx(0));
    if_then(lane0, [&] {
      for (size_t i = 0; i < accs.size(); ++i) {
        Value v = accs[i];
        if (v.getType().isInteger(1)) v = e.b.create<arith::ExtUIOp>(e.loc, e.b.getI8Type(), v);
        e.b.create<memref::StoreOp>(e.loc, v, scratch.at({&ph, static_cast<int>(i)}),
                                    ValueRange{warp});
      }
    });
    e.b.create<gpu::BarrierOp>(e.loc);
    if_then(e.cmpi(arith::CmpIPredicate::eq, warp, e.idx(0)), [&] {
      Value live = e.cmpi(arith::CmpIPredicate::ult, lane, e.idx(warps));
      Value slot = e.sel(live, lane, e.idx(0));
      SmallVector<Value> part;
      SmallVector<Value> ids = identities(ph, *kernel);
      for (size_t i = 0; i < accs.size(); ++i) {
        Value v = e.b.create<memref::LoadOp>(e.loc, scratch.at({&ph, static_cast<int>(i)}),
                                             ValueRange{slot});
        if (ids[i].getType().isInteger(1)) v = e.local_out(v, bool_);
        part.push_back(e.sel(live, v, ids[i]));
      }
      part = warp_reduce(ph, part);
      if_then(lane0, [&] { store_results(ph, *kernel, locals, part, {}); });
    });
  }

  int threads_;
};

// Emits the expressions and effects of one phase at one point.
class PhaseEmitter {
 public:
  PhaseEmitter(Emitter& e, const Kernel& k, ArrayRef<Value> args, ArrayRef<Value> locals,
               ArrayRef<Value> grid)
      : e(e), k(k), args(args), locals(locals), grid(grid) {}

  SmallVector<Value> exprs(const Phase& ph, ArrayRef<Value> domain) {
    SmallVector<Value> v;
    v.reserve(ph.exprs.size());
    for (const Expr& x : ph.exprs) v.push_back(expr(ph, x, v, domain));
    return v;
  }

  void map_effects(const Phase& ph, ArrayRef<Value> v, ArrayRef<Value> domain) {
    for (const Store& s : ph.stores) {
      Dtype dt = k.args[s.arg].dtype;
      Value dst = s.choices.empty() ? args[s.arg] : pick(s.choices, v[s.choice]);
      e.b.create<memref::StoreOp>(e.loc, e.to_storage(v[s.value], dt), dst,
                                  ValueRange{e.to_index(v[s.index])});
    }
    for (const Materialize& m : ph.materializations) {
      Dtype dt = k.locals[m.local].dtype;
      e.b.create<memref::StoreOp>(e.loc, e.local_in(v[m.value], dt), locals[m.local], domain);
    }
  }

 private:
  Value expr(const Phase& ph, const Expr& x, ArrayRef<Value> v, ArrayRef<Value> domain) {
    auto op = [&](int i) { return v[x.operands[i]]; };
    auto dt_of = [&](int i) { return ph.exprs[x.operands[i]].dtype; };
    switch (x.kind) {
      case ExprKind::Const:
        return e.const_of(x.value, x.dtype);
      case ExprKind::GridIndex:
        return e.to_i64(grid[x.axis]);
      case ExprKind::DomainIndex:
        return e.to_i64(domain[x.axis]);
      case ExprKind::Load: {
        Value src = x.choices.empty() ? args[x.arg] : pick(x.choices, op(1));
        Value l = e.b.create<memref::LoadOp>(e.loc, src, ValueRange{e.to_index(op(0))});
        return e.from_storage(l, x.dtype);
      }
      case ExprKind::LoadLocal: {
        SmallVector<Value> at;
        for (size_t i = 0; i < x.operands.size(); ++i) at.push_back(e.to_index(op(i)));
        return e.local_out(e.b.create<memref::LoadOp>(e.loc, locals[x.local], at), x.dtype);
      }
      case ExprKind::Unary:
        return e.round_to(e.unary(x.unary_op, op(0), dt_of(0)), x.dtype);
      case ExprKind::Binary:
        return e.round_to(e.binary(x.binary_op, op(0), op(1), dt_of(0)), x.dtype);
      case ExprKind::Select:
        return e.sel(op(0), op(1), op(2));
      case ExprKind::Cast:
        return e.cast_to(op(0), dt_of(0), x.dtype);
    }
    throw std::logic_error("[codegen] unknown expression kind");
  }

  // The buffer args[choices[which]] (all of one memref type): a chain of
  // selects that LLVM hoists out of the loops over the other axes.
  Value pick(const std::vector<int>& choices, Value which) {
    Value at = e.to_index(which), buffer = args[choices[0]];
    for (size_t i = 1; i < choices.size(); ++i) {
      Value here = e.cmpi(arith::CmpIPredicate::eq, at, e.idx(static_cast<int64_t>(i)));
      buffer = e.sel(here, args[choices[i]], buffer);
    }
    return buffer;
  }

  Emitter& e;
  const Kernel& k;
  ArrayRef<Value> args, locals, grid;
};

void emit_phases(Emitter& e, const Kernel& k, PhaseSchedule& sched, ArrayRef<Value> args,
                 ArrayRef<Value> grid) {
  PhaseEmitter pe(e, k, args, sched.locals, grid);
  for (size_t p = 0; p < k.phases.size(); ++p) {
    const Phase& ph = k.phases[p];
    // A lane's phase runs where grid index 0 is the lane (uniform per GPU block).
    std::optional<OpBuilder::InsertionGuard> in_lane;
    if (ph.lane >= 0) {
      Value here = e.cmpi(arith::CmpIPredicate::eq, grid[0], e.idx(ph.lane));
      auto op = e.b.create<scf::IfOp>(e.loc, here, /*withElseRegion=*/false);
      in_lane.emplace(e.b);
      e.b.setInsertionPoint(op.thenBlock()->getTerminator());
    }
    if (ph.kind == PhaseKind::Map) {
      sched.map(ph, [&](ArrayRef<Value> d) { pe.map_effects(ph, pe.exprs(ph, d), d); });
    } else {
      sched.reduce(ph, [&](ArrayRef<Value> d) {
        auto v = pe.exprs(ph, d);
        SmallVector<Value> out;
        for (const auto& r : ph.reductions) out.push_back(v[r.value]);
        return out;
      });
    }
    in_lane.reset();
    if (p + 1 < k.phases.size()) sched.end_phase();
  }
}

SmallVector<Type> arg_types(Emitter& e, const Kernel& k) {
  SmallVector<Type> types;
  for (const auto& a : k.args) types.push_back(MemRefType::get({a.size}, e.storage_type(a.dtype)));
  return types;
}

void build_cpu(Emitter& e, ModuleOp module, const Kernel& k) {
  OpBuilder& b = e.b;
  SmallVector<Type> types = arg_types(e, k);
  types.push_back(b.getIndexType());
  types.push_back(b.getIndexType());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(e.loc, k.name, b.getFunctionType(types, {}));
  // No buffer is written through another argument: outputs are fresh
  // allocations, and inputs that share memory are only read. Without this
  // LLVM vectorises a loop only after run-time overlap checks, and gives up
  // when a kernel has more than a few outputs.
  for (size_t i = 0; i < k.args.size(); ++i) {
    fn.setArgAttr(static_cast<unsigned>(i), "llvm.noalias", b.getUnitAttr());
  }
  Block* entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  SmallVector<Value> args(entry->getArguments().begin(), entry->getArguments().end() - 2);
  Value begin = entry->getArgument(types.size() - 2), end = entry->getArgument(types.size() - 1);
  CpuSchedule sched(e);
  sched.kernel = &k;
  // Locals once per call (stack), reused by every grid point of the range.
  for (const auto& l : k.locals) {
    sched.locals.push_back(
        b.create<memref::AllocaOp>(e.loc, MemRefType::get(l.shape, e.local_type(l.dtype))));
  }
  if (k.grid.size() >= 2 && k.grid.back() > 1) {
    // Rows of the innermost grid axis: one delinearisation per row, and a
    // unit-stride inner loop LLVM can vectorise, for the range's grid points.
    const int64_t last = k.grid.back();
    Value n = e.idx(last);
    Value first_row = b.create<arith::DivUIOp>(e.loc, begin, n);
    Value end_row =
        b.create<arith::DivUIOp>(e.loc, b.create<arith::AddIOp>(e.loc, end, e.idx(last - 1)), n);
    auto rows = b.create<scf::ForOp>(e.loc, first_row, end_row, e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(rows.getBody()->getTerminator());
    Value row = rows.getInductionVar();
    Value row_start = b.create<arith::MulIOp>(e.loc, row, n);
    Value lo = b.create<arith::MaxUIOp>(
        e.loc,
        b.create<arith::SubIOp>(e.loc, b.create<arith::MaxUIOp>(e.loc, begin, row_start),
                                row_start),
        e.idx(0));
    Value hi = b.create<arith::MinUIOp>(e.loc, b.create<arith::SubIOp>(e.loc, end, row_start), n);
    SmallVector<Value> outer = e.unflatten(row, ArrayRef<int64_t>(k.grid).drop_back());
    auto cols = b.create<scf::ForOp>(e.loc, lo, hi, e.idx(1));
    b.setInsertionPoint(cols.getBody()->getTerminator());
    SmallVector<Value> grid = outer;
    grid.push_back(cols.getInductionVar());
    emit_phases(e, k, sched, args, grid);
  } else {
    auto g = b.create<scf::ForOp>(e.loc, begin, end, e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(g.getBody()->getTerminator());
    SmallVector<Value> grid = e.unflatten(g.getInductionVar(), k.grid);
    emit_phases(e, k, sched, args, grid);
  }
  b.create<func::ReturnOp>(e.loc);
}

bool is_pointwise(const Kernel& k) {
  if (!k.locals.empty()) return false;
  for (const auto& ph : k.phases) {
    if (!ph.domain.empty() || ph.kind != PhaseKind::Map) return false;
  }
  return true;
}

int64_t align16(int64_t n) {
  return (n + 15) / 16 * 16;
}

void build_gpu(Emitter& e, ModuleOp module, const Kernel& k, Target target, GpuLaunch& launch) {
  OpBuilder& b = e.b;
  MLIRContext* ctx = b.getContext();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), b.getUnitAttr());
  b.setInsertionPointToEnd(module.getBody());
  const char* chip = target == Target::Sm80 ? "sm_80" : "sm_90";
  auto nvvm_target =
      NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", chip, "+ptx81");
  auto gmod = b.create<gpu::GPUModuleOp>(e.loc, k.name + "_module", b.getArrayAttr({nvvm_target}));
  b.setInsertionPointToStart(gmod.getBody());
  auto fn = b.create<gpu::GPUFuncOp>(e.loc, k.name, b.getFunctionType(arg_types(e, k), {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  Block& entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  SmallVector<Value> args(entry.getArguments().begin(), entry.getArguments().end());
  Value tid = b.create<gpu::ThreadIdOp>(e.loc, gpu::Dimension::x);
  Value bid = b.create<gpu::BlockIdOp>(e.loc, gpu::Dimension::x);

  if (is_pointwise(k)) {
    launch.block_threads = 256;
    launch.grid_blocks = (k.grid_size() + 255) / 256;
    launch.shared_bytes = 0;
    fn.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({256, 1, 1}));
    Value g = b.create<arith::AddIOp>(e.loc, b.create<arith::MulIOp>(e.loc, bid, e.idx(256)), tid);
    auto guard = b.create<scf::IfOp>(
        e.loc, e.cmpi(arith::CmpIPredicate::ult, g, e.idx(k.grid_size())), false);
    b.setInsertionPoint(guard.thenBlock()->getTerminator());
    CpuSchedule sched(e);  // every domain is a single point: no loops emitted
    sched.kernel = &k;
    emit_phases(e, k, sched, args, e.unflatten(g, k.grid));
    b.setInsertionPointAfter(guard);
    b.create<gpu::ReturnOp>(e.loc);
    return;
  }

  int64_t largest = 1;
  for (const auto& ph : k.phases) {
    int64_t n = 1;
    for (auto d : ph.domain) n *= d;
    largest = std::max(largest, n);
  }
  const int threads = static_cast<int>(std::min<int64_t>(256, (largest + 31) / 32 * 32));
  launch.block_threads = threads;
  launch.grid_blocks = k.grid_size();
  fn.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({threads, 1, 1}));

  GpuBlockSchedule sched(e, threads);
  sched.kernel = &k;
  sched.tid = tid;
  sched.lane = b.create<arith::RemUIOp>(e.loc, tid, e.idx(32));
  sched.warp = b.create<arith::DivUIOp>(e.loc, tid, e.idx(32));
  // Locals and reduction scratch are views into dynamic shared memory, so
  // tiles beyond the 48 KiB static limit work (the launcher opts in).
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value smem = b.create<gpu::DynamicSharedMemoryOp>(
      e.loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface{}, wg));
  int64_t offset = 0;
  auto view = [&](ArrayRef<int64_t> shape, Type t) {
    auto ty = MemRefType::get(shape, t, MemRefLayoutAttrInterface{}, wg);
    int64_t n = std::max(1u, t.getIntOrFloatBitWidth() / 8);
    for (auto d : shape) n *= d;
    Value v = b.create<memref::ViewOp>(e.loc, ty, smem, e.idx(offset), ValueRange{});
    offset = align16(offset + n);
    return v;
  };
  // Each region's locals start at 0: regions are never live together.
  std::map<int, int64_t> region_end;
  int64_t shared_end = 0;
  for (const auto& l : k.locals) {
    offset = region_end[l.region];
    sched.locals.push_back(view(l.shape, e.local_type(l.dtype)));
    region_end[l.region] = offset;
    shared_end = std::max(shared_end, offset);
  }
  offset = shared_end;
  if (threads > 32) {
    // Full reductions combine 32 warp partials through scratch; phases run
    // one after another, so reduction i of every phase uses slot i (32
    // values of up to 8 bytes).
    const int64_t base = offset;
    size_t slots = 0;
    for (const auto& ph : k.phases) {
      if (ph.kind != PhaseKind::Reduce || ph.reduced_axes.size() != ph.domain.size()) continue;
      for (size_t i = 0; i < ph.reductions.size(); ++i) {
        const auto& r = ph.reductions[i];
        Dtype dt = k.locals[r.local].dtype;
        // Booleans live as bytes in memory (an i1 element has no byte size).
        Type t = e.acc_type(r.op, dt);
        if (t.isInteger(1)) t = b.getI8Type();
        offset = base + static_cast<int64_t>(i) * 32 * 8;
        sched.scratch[{&ph, static_cast<int>(i)}] = view({32}, t);
      }
      slots = std::max(slots, ph.reductions.size());
    }
    offset = base + static_cast<int64_t>(slots) * 32 * 8;
  }
  launch.shared_bytes = offset;
  emit_phases(e, k, sched, args, e.unflatten(bid, k.grid));
  b.create<gpu::ReturnOp>(e.loc);
}

}  // namespace

OwningOpRef<ModuleOp> build_module(MLIRContext& ctx, const Kernel& kernel, Target target,
                                   const CodegenOptions& options, GpuLaunch* launch) {
  validate(kernel);
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Emitter e(b, loc, *module, target, options);
  if (target == Target::Cpu) {
    build_cpu(e, *module, kernel);
  } else {
    GpuLaunch local;
    build_gpu(e, *module, kernel, target, launch ? *launch : local);
  }
  if (failed(mlir::verify(*module))) {
    throw std::logic_error(fmt::format("[codegen] kernel '{}': emitted MLIR does not verify:\n{}",
                                       kernel.name, print(*module)));
  }
  if (options.fast_math) {
    RewritePatternSet patterns(&ctx);
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(*module, std::move(patterns)))) {
      throw std::logic_error(
          fmt::format("[codegen] kernel '{}': math approximation failed", kernel.name));
    }
  }
  return module;
}

}  // namespace mfx::compiler::detail

namespace mfx::compiler {

std::string emit_mlir(const Kernel& kernel, Target target, const CodegenOptions& options) {
  auto ctx = detail::make_context();
  auto module = detail::build_module(*ctx, kernel, target, options);
  return detail::print(module->getOperation());
}

}  // namespace mfx::compiler
