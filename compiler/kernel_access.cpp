// map_inner_axis: see kernel_access.h.
#include "compiler/kernel_access.h"

#include <cstdint>
#include <vector>

namespace mfx::compiler {

namespace {

// An int64 index as coefficient * domain index summed over axes, where
// `known`; an axis not known moves the index in a way this does not follow.
struct Linear {
  std::vector<int64_t> coef;
  std::vector<char> known;
};

Linear linear_forms_of(const Phase& ph, std::vector<Linear>& forms, int id) {
  const size_t axes = ph.domain.size();
  const Expr& x = ph.exprs[id];
  Linear out{std::vector<int64_t>(axes, 0), std::vector<char>(axes, 1)};
  auto operand = [&](int i) -> const Linear& { return forms[x.operands[i]]; };
  // Every axis an operand depends on becomes unknown.
  auto opaque = [&] {
    for (size_t o = 0; o < x.operands.size(); ++o) {
      for (size_t a = 0; a < axes; ++a) {
        if (operand(o).coef[a] != 0 || !operand(o).known[a]) out.known[a] = 0;
      }
    }
  };
  switch (x.kind) {
    case ExprKind::Const:
    case ExprKind::GridIndex:
      break;
    case ExprKind::DomainIndex:
      out.coef[x.axis] = 1;
      break;
    case ExprKind::Binary:
      if (x.dtype == Dtype::int64 && (x.binary_op == BinaryOp::Add ||
                                      x.binary_op == BinaryOp::Subtract)) {
        const int64_t sign = x.binary_op == BinaryOp::Add ? 1 : -1;
        for (size_t a = 0; a < axes; ++a) {
          out.coef[a] = operand(0).coef[a] + sign * operand(1).coef[a];
          out.known[a] = operand(0).known[a] && operand(1).known[a];
        }
        break;
      }
      if (x.dtype == Dtype::int64 && x.binary_op == BinaryOp::Multiply) {
        for (int c = 0; c < 2; ++c) {
          const Expr& k = ph.exprs[x.operands[c]];
          if (k.kind != ExprKind::Const) continue;
          const Linear& v = operand(1 - c);
          for (size_t a = 0; a < axes; ++a) {
            out.coef[a] = v.coef[a] * static_cast<int64_t>(k.value);
            out.known[a] = v.known[a];
          }
          return out;
        }
      }
      opaque();
      break;
    default:
      opaque();
      break;
  }
  return out;
}

}  // namespace

int map_inner_axis(const Kernel& kernel, const Phase& ph) {
  const int axes = static_cast<int>(ph.domain.size());
  const int last = axes - 1;
  if (ph.kind != PhaseKind::Map || axes < 2) return last;
  std::vector<Linear> forms;
  forms.reserve(ph.exprs.size());
  for (int i = 0; i < static_cast<int>(ph.exprs.size()); ++i)
    forms.push_back(linear_forms_of(ph, forms, i));
  std::vector<int> against(axes, 0);
  auto count = [&](int index) {
    const Linear& f = forms[index];
    for (int a = 0; a < axes; ++a) {
      if (!f.known[a] || (f.coef[a] != 0 && f.coef[a] != 1)) ++against[a];
    }
  };
  for (const Expr& x : ph.exprs) {
    if (x.kind == ExprKind::Load && kernel.args[x.arg].size > 1) count(x.operands[0]);
  }
  for (const Store& s : ph.stores) count(s.index);
  // A materialisation writes its local at the domain point, row-major:
  // unit stride along the last axis only.
  for (size_t m = 0; m < ph.materializations.size(); ++m) {
    for (int a = 0; a < last; ++a) ++against[a];
  }
  int best = last;
  for (int a = 0; a < axes; ++a) {
    if (ph.domain[a] >= 16 && against[a] < against[best]) best = a;
  }
  return best;
}

}  // namespace mfx::compiler
