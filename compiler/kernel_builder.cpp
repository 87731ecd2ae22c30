// PhaseBuilder: appends expressions with the result dtypes Kernel IR expects.
#include "compiler/kernel_builder.h"

namespace mfx::compiler {

int PhaseBuilder::push(Expr e) {
  phase_.exprs.push_back(std::move(e));
  return static_cast<int>(phase_.exprs.size()) - 1;
}

int PhaseBuilder::constant(double value, Dtype dtype) {
  Expr e{ExprKind::Const, dtype, {}};
  e.value = value;
  return push(e);
}

int PhaseBuilder::grid_index(int axis) {
  Expr e{ExprKind::GridIndex, int64, {}};
  e.axis = axis;
  return push(e);
}

int PhaseBuilder::domain_index(int axis) {
  Expr e{ExprKind::DomainIndex, int64, {}};
  e.axis = axis;
  return push(e);
}

int PhaseBuilder::load(int arg, Dtype dtype, int index) {
  Expr e{ExprKind::Load, dtype, {index}};
  e.arg = arg;
  return push(e);
}

int PhaseBuilder::load_local(int local, Dtype dtype, std::vector<int> indices) {
  Expr e{ExprKind::LoadLocal, dtype, std::move(indices)};
  e.local = local;
  return push(e);
}

int PhaseBuilder::unary(UnaryOp op, int a) {
  bool to_bool = op == UnaryOp::IsNan || op == UnaryOp::IsInf || op == UnaryOp::IsFinite;
  Expr e{ExprKind::Unary, to_bool ? bool_ : dtype_of(a), {a}};
  e.unary_op = op;
  return push(e);
}

int PhaseBuilder::binary(BinaryOp op, int a, int b) {
  bool to_bool = op >= BinaryOp::Equal;  // comparisons and logical ops
  Expr e{ExprKind::Binary, to_bool ? bool_ : dtype_of(a), {a, b}};
  e.binary_op = op;
  return push(e);
}

int PhaseBuilder::select(int cond, int a, int b) {
  return push(Expr{ExprKind::Select, dtype_of(a), {cond, a, b}});
}

int PhaseBuilder::cast(int a, Dtype dtype) {
  return push(Expr{ExprKind::Cast, dtype, {a}});
}

int PhaseBuilder::linear_index(const std::vector<int>& indices, const std::vector<int64_t>& strides,
                               int64_t offset) {
  int acc = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (strides[i] == 0) continue;
    int term = strides[i] == 1 ? indices[i] : mul(indices[i], index(strides[i]));
    acc = acc < 0 ? term : add(acc, term);
  }
  if (acc < 0) return index(offset);
  return offset == 0 ? acc : add(acc, index(offset));
}

}  // namespace mfx::compiler
