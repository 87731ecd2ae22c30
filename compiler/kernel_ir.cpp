// Kernel IR consistency checks and listing.
#include "compiler/kernel_ir.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include <stdexcept>

namespace mfx::compiler {

namespace {

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::Equal:
    case BinaryOp::NotEqual:
    case BinaryOp::Less:
    case BinaryOp::LessEqual:
    case BinaryOp::Greater:
    case BinaryOp::GreaterEqual:
      return true;
    default:
      return false;
  }
}

bool is_logical(BinaryOp op) {
  return op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr || op == BinaryOp::LogicalXor;
}

// Unary ops defined only on floating types (the eager kernels reject others).
bool unary_float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Negative:
    case UnaryOp::Abs:
    case UnaryOp::Sign:
    case UnaryOp::Square:
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
    case UnaryOp::IsInf:
    case UnaryOp::IsFinite:
      return false;
    default:
      return true;
  }
}

std::string shape_text(const std::vector<int64_t>& s) {
  return fmt::format("({})", fmt::join(s, ","));
}

const char* kind_name(ExprKind k) {
  switch (k) {
    case ExprKind::Const:
      return "const";
    case ExprKind::GridIndex:
      return "grid_index";
    case ExprKind::DomainIndex:
      return "domain_index";
    case ExprKind::Load:
      return "load";
    case ExprKind::LoadLocal:
      return "load_local";
    case ExprKind::Unary:
      return "unary";
    case ExprKind::Binary:
      return "binary";
    case ExprKind::Select:
      return "select";
    case ExprKind::Cast:
      return "cast";
  }
  return "?";
}

// Throws with the kernel/phase/expression context prefixed.
class Checker {
 public:
  explicit Checker(const Kernel& k) : k_(k) {}

  [[noreturn]] void fail(const std::string& what) const {
    std::string where = fmt::format("[validate] kernel '{}'", k_.name);
    if (phase_ >= 0) where += fmt::format(", phase {}", phase_);
    if (expr_ >= 0) where += fmt::format(", expr {}", expr_);
    throw std::logic_error(where + ": " + what);
  }
  void require(bool ok, const std::string& what) const {
    if (!ok) fail(what);
  }

  void run() {
    check_header();
    for (size_t p = 0; p < k_.phases.size(); ++p) {
      phase_ = static_cast<int>(p);
      check_phase(k_.phases[p]);
      expr_ = -1;
    }
  }

 private:
  void check_header() {
    const auto& n = k_.name;
    bool ident = !n.empty() && !(n[0] >= '0' && n[0] <= '9');
    for (char c : n) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    require(ident, "name is not a C identifier");
    bool outputs = false;
    for (size_t i = 0; i < k_.args.size(); ++i) {
      const auto& a = k_.args[i];
      require(a.size >= 0, fmt::format("arg {} has negative size {}", i, a.size));
      require(!outputs || a.output, fmt::format("input arg {} follows an output", i));
      outputs = outputs || a.output;
    }
    for (size_t i = 0; i < k_.grid.size(); ++i) {
      require(k_.grid[i] >= 0, fmt::format("grid {} has a negative extent", shape_text(k_.grid)));
    }
    for (size_t i = 0; i < k_.locals.size(); ++i) {
      for (auto d : k_.locals[i].shape) {
        require(d >= 1, fmt::format("local {} has shape {} with an extent < 1", i,
                                    shape_text(k_.locals[i].shape)));
      }
    }
    require(!k_.phases.empty(), "no phases");
  }

  // The args a load or store picks among: in range, of the first one's dtype and size.
  void check_choices(const std::vector<int>& choices, int arg, const char* what) {
    for (int c : choices) {
      require(c >= 0 && c < static_cast<int>(k_.args.size()),
              fmt::format("{} choice arg {} out of range", what, c));
      require(k_.args[c].dtype == k_.args[arg].dtype && k_.args[c].size == k_.args[arg].size,
              fmt::format("{} choice arg {} differs from arg {} in dtype or size", what, c, arg));
    }
  }

  void check_phase(const Phase& ph) {
    const int rank = static_cast<int>(ph.domain.size());
    require(ph.lane < 0 || (!k_.grid.empty() && ph.lane < k_.grid[0]),
            fmt::format("lane {} outside grid {}", ph.lane, shape_text(k_.grid)));
    for (auto d : ph.domain) {
      require(d >= 1, fmt::format("domain {} has an extent < 1", shape_text(ph.domain)));
    }
    if (ph.kind == PhaseKind::Map) {
      require(ph.reduced_axes.empty(), "a Map phase has reduced axes");
      require(ph.reductions.empty(), "a Map phase has reductions");
    } else {
      require(ph.stores.empty() && ph.materializations.empty(),
              "a Reduce phase has stores or materializations");
      require(!ph.reductions.empty(), "a Reduce phase has no reductions");
      for (size_t i = 0; i < ph.reduced_axes.size(); ++i) {
        int a = ph.reduced_axes[i];
        require(a >= 0 && a < rank, fmt::format("reduced axis {} out of range for domain {}", a,
                                                shape_text(ph.domain)));
        require(i == 0 || a > ph.reduced_axes[i - 1], "reduced axes are not sorted and unique");
      }
    }
    for (size_t e = 0; e < ph.exprs.size(); ++e) {
      expr_ = static_cast<int>(e);
      check_expr(ph, ph.exprs[e], static_cast<int>(e));
    }
    expr_ = -1;
    auto expr_ok = [&](int id) { return id >= 0 && id < static_cast<int>(ph.exprs.size()); };
    for (const auto& s : ph.stores) {
      require(s.arg >= 0 && s.arg < static_cast<int>(k_.args.size()),
              fmt::format("store to arg {} out of range", s.arg));
      require(k_.args[s.arg].output, fmt::format("store to input arg {}", s.arg));
      require(expr_ok(s.index) && ph.exprs[s.index].dtype == int64,
              fmt::format("store to arg {}: index {} is not an int64 expression", s.arg, s.index));
      require(expr_ok(s.value) && ph.exprs[s.value].dtype == k_.args[s.arg].dtype,
              fmt::format("store to arg {} ({}): value {} has another dtype", s.arg,
                          dtype_name(k_.args[s.arg].dtype), s.value));
      if (!s.choices.empty()) {
        require(s.choices[0] == s.arg, "a store's first choice is not its arg");
        check_choices(s.choices, s.arg, "store");
        for (int c : s.choices) require(k_.args[c].output, fmt::format("store to input arg {}", c));
        require(expr_ok(s.choice) && ph.exprs[s.choice].dtype == int64,
                fmt::format("store to arg {}: choice {} is not an int64 expression", s.arg,
                            s.choice));
      }
    }
    for (const auto& m : ph.materializations) {
      require(m.local >= 0 && m.local < static_cast<int>(k_.locals.size()),
              fmt::format("materialize into local {} out of range", m.local));
      const auto& l = k_.locals[m.local];
      require(l.shape == ph.domain,
              fmt::format("materialize: local {} shape {} != domain {}", m.local,
                          shape_text(l.shape), shape_text(ph.domain)));
      require(expr_ok(m.value) && ph.exprs[m.value].dtype == l.dtype,
              fmt::format("materialize into local {} ({}): value {} has another dtype", m.local,
                          dtype_name(l.dtype), m.value));
    }
    std::vector<int64_t> kept;
    for (int a = 0; a < rank; ++a) {
      bool reduced = false;
      for (int r : ph.reduced_axes) reduced = reduced || r == a;
      if (!reduced) kept.push_back(ph.domain[a]);
    }
    for (const auto& r : ph.reductions) {
      require(r.local >= 0 && r.local < static_cast<int>(k_.locals.size()),
              fmt::format("reduction into local {} out of range", r.local));
      const auto& l = k_.locals[r.local];
      bool shape_ok = kept.empty() ? l.size() == 1 : l.shape == kept;
      require(shape_ok, fmt::format("reduction: local {} shape {} != kept domain {}", r.local,
                                    shape_text(l.shape), shape_text(kept)));
      require(expr_ok(r.value) && ph.exprs[r.value].dtype == l.dtype,
              fmt::format("reduction into local {} ({}): value {} has another dtype", r.local,
                          dtype_name(l.dtype), r.value));
      bool logical = r.op == ReduceOp::All || r.op == ReduceOp::Any;
      require(logical == (l.dtype == bool_),
              fmt::format("reduction {} on dtype {}", reduce_op_name(r.op), dtype_name(l.dtype)));
    }
  }

  void check_expr(const Phase& ph, const Expr& e, int id) {
    auto operand = [&](size_t i) -> const Expr& {
      int o = e.operands[i];
      require(o >= 0 && o < id, fmt::format("operand {} refers to expr {}", i, o));
      return ph.exprs[o];
    };
    auto arity = [&](size_t n) {
      require(e.operands.size() == n,
              fmt::format("{} takes {} operands, has {}", kind_name(e.kind), n, e.operands.size()));
    };
    switch (e.kind) {
      case ExprKind::Const:
        arity(0);
        break;
      case ExprKind::GridIndex:
        arity(0);
        require(e.axis >= 0 && e.axis < static_cast<int>(k_.grid.size()),
                fmt::format("grid axis {} out of range for grid {}", e.axis, shape_text(k_.grid)));
        require(e.dtype == int64, "grid_index must be int64");
        break;
      case ExprKind::DomainIndex:
        arity(0);
        require(e.axis >= 0 && e.axis < static_cast<int>(ph.domain.size()),
                fmt::format("domain axis {} out of range for domain {}", e.axis,
                            shape_text(ph.domain)));
        require(e.dtype == int64, "domain_index must be int64");
        break;
      case ExprKind::Load:
        arity(e.choices.empty() ? 1 : 2);
        require(e.arg >= 0 && e.arg < static_cast<int>(k_.args.size()),
                fmt::format("load from arg {} out of range", e.arg));
        require(e.dtype == k_.args[e.arg].dtype,
                fmt::format("load from arg {} ({}) as {}", e.arg, dtype_name(k_.args[e.arg].dtype),
                            dtype_name(e.dtype)));
        require(operand(0).dtype == int64, "load index must be int64");
        if (!e.choices.empty()) {
          require(e.choices[0] == e.arg, "a load's first choice is not its arg");
          check_choices(e.choices, e.arg, "load");
          require(operand(1).dtype == int64, "load choice must be int64");
        }
        break;
      case ExprKind::LoadLocal: {
        require(e.local >= 0 && e.local < static_cast<int>(k_.locals.size()),
                fmt::format("load_local from local {} out of range", e.local));
        const auto& l = k_.locals[e.local];
        arity(l.shape.size());
        require(e.dtype == l.dtype, fmt::format("load_local from local {} ({}) as {}", e.local,
                                                dtype_name(l.dtype), dtype_name(e.dtype)));
        for (size_t i = 0; i < e.operands.size(); ++i) {
          require(operand(i).dtype == int64, "load_local indices must be int64");
        }
        break;
      }
      case ExprKind::Unary: {
        arity(1);
        Dtype a = operand(0).dtype;
        const char* name = unary_op_name(e.unary_op);
        switch (e.unary_op) {
          case UnaryOp::IsNan:
          case UnaryOp::IsInf:
          case UnaryOp::IsFinite:
            require(e.dtype == bool_, fmt::format("{} returns bool", name));
            break;
          case UnaryOp::LogicalNot:
            require(a == bool_ && e.dtype == bool_, fmt::format("{} takes and returns bool", name));
            break;
          default:
            require(e.dtype == a, fmt::format("{} returns its operand's dtype", name));
            require(!unary_float_only(e.unary_op) || is_floating(a),
                    fmt::format("{} on dtype {}", name, dtype_name(a)));
            require(e.unary_op != UnaryOp::Negative || a != bool_,
                    fmt::format("{} on dtype bool", name));
        }
        break;
      }
      case ExprKind::Binary: {
        arity(2);
        Dtype a = operand(0).dtype, b = operand(1).dtype;
        const char* name = binary_op_name(e.binary_op);
        require(a == b, fmt::format("{} operands have dtypes {} and {}", name, dtype_name(a),
                                    dtype_name(b)));
        if (is_comparison(e.binary_op)) {
          require(e.dtype == bool_, fmt::format("{} returns bool", name));
        } else if (is_logical(e.binary_op)) {
          require(a == bool_ && e.dtype == bool_, fmt::format("{} takes and returns bool", name));
        } else {
          require(e.dtype == a, fmt::format("{} returns its operands' dtype", name));
          bool float_only = e.binary_op == BinaryOp::Divide || e.binary_op == BinaryOp::Arctan2;
          bool no_bool = e.binary_op == BinaryOp::Subtract ||
                         e.binary_op == BinaryOp::FloorDivide ||
                         e.binary_op == BinaryOp::Remainder || e.binary_op == BinaryOp::Power;
          require(!float_only || is_floating(a),
                  fmt::format("{} on dtype {}", name, dtype_name(a)));
          require(!no_bool || a != bool_, fmt::format("{} on dtype bool", name));
        }
        break;
      }
      case ExprKind::Select:
        arity(3);
        require(operand(0).dtype == bool_, "select condition must be bool");
        require(operand(1).dtype == e.dtype && operand(2).dtype == e.dtype,
                "select branches must have the result dtype");
        break;
      case ExprKind::Cast:
        arity(1);
        break;
    }
  }

  const Kernel& k_;
  int phase_ = -1;
  int expr_ = -1;
};

}  // namespace

std::vector<char> full_reduction_locals(const Kernel& k) {
  std::vector<char> full(k.locals.size(), 0);
  for (const auto& ph : k.phases) {
    if (ph.kind != PhaseKind::Reduce || ph.reduced_axes.size() != ph.domain.size()) continue;
    for (const auto& r : ph.reductions) full[r.local] = 1;
  }
  return full;
}

void validate(const Kernel& kernel) {
  Checker(kernel).run();
}

std::string to_string(const Kernel& k) {
  std::string s = fmt::format("kernel {} grid {}\n", k.name, shape_text(k.grid));
  for (size_t i = 0; i < k.args.size(); ++i) {
    s += fmt::format("  arg {}: {}[{}]{}\n", i, dtype_name(k.args[i].dtype), k.args[i].size,
                     k.args[i].output ? " out" : "");
  }
  for (size_t i = 0; i < k.locals.size(); ++i) {
    s += fmt::format("  local {}: {}{}{}\n", i, dtype_name(k.locals[i].dtype),
                     shape_text(k.locals[i].shape),
                     k.locals[i].region ? fmt::format(" region {}", k.locals[i].region) : "");
  }
  for (size_t p = 0; p < k.phases.size(); ++p) {
    const Phase& ph = k.phases[p];
    s += fmt::format("  phase {} {} domain {}", p, ph.kind == PhaseKind::Map ? "map" : "reduce",
                     shape_text(ph.domain));
    if (!ph.reduced_axes.empty())
      s += fmt::format(" reduce axes ({})", fmt::join(ph.reduced_axes, ","));
    if (ph.lane >= 0) s += fmt::format(" lane {}", ph.lane);
    s += "\n";
    for (size_t i = 0; i < ph.exprs.size(); ++i) {
      const Expr& e = ph.exprs[i];
      std::string what = kind_name(e.kind);
      switch (e.kind) {
        case ExprKind::Const:
          what += fmt::format(" {}", e.value);
          break;
        case ExprKind::GridIndex:
        case ExprKind::DomainIndex:
          what += fmt::format(" {}", e.axis);
          break;
        case ExprKind::Load:
          what += e.choices.empty() ? fmt::format(" arg{}", e.arg)
                                    : fmt::format(" arg{{{}}}", fmt::join(e.choices, ","));
          break;
        case ExprKind::LoadLocal:
          what += fmt::format(" local{}", e.local);
          break;
        case ExprKind::Unary:
          what = unary_op_name(e.unary_op);
          break;
        case ExprKind::Binary:
          what = binary_op_name(e.binary_op);
          break;
        default:
          break;
      }
      std::vector<std::string> ops;
      for (int o : e.operands) ops.push_back(fmt::format("%{}", o));
      s +=
          fmt::format("    %{} = {} {} : {}\n", i, what, fmt::join(ops, ", "), dtype_name(e.dtype));
    }
    for (const auto& st : ph.stores) {
      if (st.choices.empty()) {
        s += fmt::format("    store arg{}[%{}] = %{}\n", st.arg, st.index, st.value);
      } else {
        s += fmt::format("    store arg{{{}}}[%{}][%{}] = %{}\n", fmt::join(st.choices, ","),
                         st.choice, st.index, st.value);
      }
    }
    for (const auto& m : ph.materializations)
      s += fmt::format("    materialize local{} = %{}\n", m.local, m.value);
    for (const auto& r : ph.reductions) {
      s += fmt::format("    local{} = {} %{}\n", r.local, reduce_op_name(r.op), r.value);
    }
  }
  return s;
}

}  // namespace mfx::compiler
