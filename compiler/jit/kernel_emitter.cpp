// Writes one fusion group as a Kernel IR kernel (see kernel_emitter.h).
#include "compiler/jit/kernel_emitter.h"

#include <algorithm>

#include "compiler/jit/index_digits.h"
#include "compiler/jit/small_contractions.h"
#include "primitives/reduction.h"

namespace mfx::jit_detail {

using compiler::Kernel;
using compiler::PhaseBuilder;

bool KernelEmitter::expensive(int v) const {
  std::set<int> seen;
  reach(v, seen);
  for (int u : seen) {
    if (is_transcendental(*g_.nodes[producer_[u]].prim)) return true;
  }
  return false;
}

// Largest expensive values first: each one read by two or more phases is
// computed once into a local (bounded size), which also stops the walk for
// the values inside it.
void KernelEmitter::choose_materializations(size_t phases,
                                            const std::function<std::vector<int>(size_t)>& roots) {
  // CPU locals live on the stack of the kernel call (256 KiB of float32);
  // a GPU plan will bound this by shared memory instead.
  constexpr int64_t kMaxLocal = 1 << 16;
  std::set<int> candidates;
  for (size_t i = 0; i < phases; ++i) {
    std::set<int> seen;
    for (int r : roots(i)) reach(r, seen);
    candidates.insert(seen.begin(), seen.end());
  }
  int64_t used = 0;
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    int v = *it;
    int64_t size = 1;
    for (auto e : extents_of(g_.values[v].shape, vaxes_[v])) size *= e;
    const int64_t bytes = size * static_cast<int64_t>(size_of(g_.values[v].dtype));
    if (size > kMaxLocal || used + bytes > cache_bytes_ || !expensive(v)) continue;
    std::vector<size_t> users;
    for (size_t i = 0; i < phases; ++i) {
      std::set<int> seen;
      for (int r : roots(i)) reach(r, seen);
      if (seen.count(v)) users.push_back(i);
    }
    if (users.size() >= 2) {
      materialize_before_[v] = users.front();
      used += bytes;
    }
  }
}

void KernelEmitter::begin_phase(compiler::Phase& ph, const std::vector<int64_t>& extents) {
  memo_.clear();
  iter_.assign(grp_.space.size(), -1);
  ph.domain = extents;
  b_ = std::make_unique<PhaseBuilder>(ph);
  for (size_t i = 0; i < grid_axes_.size(); ++i) iter_[grid_axes_[i]] = b_->grid_index(i);
  for (size_t i = 0; i < domain_axes_.size(); ++i) {
    if (extents[i] == grp_.space[domain_axes_[i]] || grp_.space[domain_axes_[i]] == 1) {
      iter_[domain_axes_[i]] = extents[i] == 1 ? b_->index(0) : b_->domain_index(i);
    }
  }
}

int KernelEmitter::emit_index(int v, const std::vector<int>& idx) {
  auto arg = arg_of_value_.find(v);
  const Shape& s = g_.values[v].shape;
  if (arg != arg_of_value_.end()) {
    Strides st = row_major_strides(s);
    std::vector<int64_t> strides(st.begin(), st.end());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) strides[i] = 0;
    }
    auto lp = load_prefix_.find(arg->second);
    const int depth = own_prefix(idx);
    if (lp == load_prefix_.end()) {
      load_prefix_[arg->second] = depth;
    } else {
      lp->second = std::min(lp->second, depth);
    }
    return b_->load(arg->second, g_.values[v].dtype, b_->linear_index(idx, strides));
  }
  if (recomputed_.count(v)) return emit_recomputed(v, idx);
  const auto& n = g_.nodes[producer_[v]];
  const Primitive& p = *n.prim;
  const int u = n.inputs[0];
  const Shape& us = g_.values[u].shape;
  std::vector<int> ui(us.size());
  if (auto* rc = dynamic_cast<const RangeCheckedIndex*>(&p)) {
    range_checks_.push_back({index_arg(u), rc->size()});
    return emit_index(u, idx);
  }
  if (auto* pad = dynamic_cast<const Pad*>(&p)) {
    if (std::find(us.begin(), us.end(), 0) != us.end()) return emit_index(n.inputs[1], {});
    int valid = -1;
    for (size_t i = 0; i < us.size(); ++i) {
      if (pad->low()[i] == 0 && us[i] == s[i]) {  // not padded along this dim
        ui[i] = idx[i];
        continue;
      }
      int j = b_->add(idx[i], b_->index(-pad->low()[i]));
      int inside =
          b_->binary(BinaryOp::LogicalAnd, b_->binary(BinaryOp::GreaterEqual, j, b_->index(0)),
                     b_->binary(BinaryOp::Less, j, b_->index(us[i])));
      valid = valid < 0 ? inside : b_->binary(BinaryOp::LogicalAnd, valid, inside);
      // Clamped so the load stays in bounds; the select discards it outside.
      ui[i] = b_->binary(BinaryOp::Minimum, b_->binary(BinaryOp::Maximum, j, b_->index(0)),
                         b_->index(std::max<int64_t>(us[i] - 1, 0)));
    }
    int inner = emit_index(u, ui);
    int fill = emit_index(n.inputs[1], {});
    if (b_->dtype_of(fill) != b_->dtype_of(inner)) fill = b_->cast(fill, b_->dtype_of(inner));
    return valid < 0 ? inner : b_->select(valid, inner, fill);
  }
  if (dynamic_cast<const Broadcast*>(&p)) {
    size_t off = s.size() - us.size();
    for (size_t i = 0; i < us.size(); ++i) ui[i] = us[i] == 1 ? zero() : idx[i + off];
  } else if (auto* t = dynamic_cast<const Transpose*>(&p)) {
    for (size_t i = 0; i < s.size(); ++i) ui[t->axes()[i]] = idx[i];
  } else if (auto* sl = dynamic_cast<const Slice*>(&p)) {
    for (size_t i = 0; i < us.size(); ++i) {
      const int64_t start = sl->start()[i], step = sl->step()[i];
      ui[i] = start == 0 && step == 1 ? idx[i]
                                      : b_->add(b_->index(start), b_->mul(idx[i], b_->index(step)));
    }
  } else if (auto* ga = dynamic_cast<const Gather*>(&p)) {
    // out = a.shape[:axis] + idx.shape + a.shape[axis+1:]
    const int ax = ga->axis();
    const int k = g_.values[n.inputs[1]].shape.size();
    std::vector<int> ii(idx.begin() + ax, idx.begin() + ax + k);
    int j = gather_index(n.inputs[1], ii, us[ax], v);
    for (int i = 0; i < ax; ++i) ui[i] = idx[i];
    ui[ax] = j;
    for (size_t i = ax + 1; i < us.size(); ++i) ui[i] = idx[i - 1 + k];
  } else if (auto* gx = dynamic_cast<const GatherAxis*>(&p)) {
    ui = idx;
    ui[gx->axis()] = gather_index(n.inputs[1], idx, us[gx->axis()], v);
  } else if (dynamic_cast<const Reshape*>(&p)) {
    // Leading dims both shapes share pass through (they keep a batch index
    // recognisable); the rest goes through the linear index.
    size_t keep = 0;
    while (keep < s.size() && keep < us.size() && s[keep] == us[keep]) ++keep;
    for (size_t i = 0; i < keep; ++i) ui[i] = idx[i];
    Shape s_rest(s.begin() + keep, s.end()), us_rest(us.begin() + keep, us.end());
    Strides vs = row_major_strides(s_rest), ust = row_major_strides(us_rest);
    std::vector<int> idx_rest(idx.begin() + keep, idx.end());
    std::vector<IndexTerm> terms;
    for (size_t j = 0; j < idx_rest.size(); ++j) terms.push_back({idx_rest[j], s_rest[j], vs[j]});
    int lin = -1;  // the linear index, for digits that do not split (index_digits.h)
    for (size_t i = keep; i < us.size(); ++i) {
      if (us[i] == 1) {
        ui[i] = zero();
      } else if (auto digit = index_digit(terms, ust[i - keep], us[i], *b_)) {
        ui[i] = sum_of_terms(*digit, *b_);
      } else {
        if (lin < 0) lin = b_->linear_index(idx_rest, std::vector<int64_t>(vs.begin(), vs.end()));
        ui[i] = b_->mod(b_->div(lin, b_->index(ust[i - keep])), b_->index(us[i]));
      }
    }
  } else {
    throw std::logic_error("[jit] planner: unexpected inline node " + p.name());
  }
  return emit_index(u, ui);
}

// The argument holding index values `v` reads, directly or through views:
// the range check covers that whole buffer.
int KernelEmitter::index_arg(int v) const {
  int base = v;
  auto arg = arg_of_value_.find(base);
  while (arg == arg_of_value_.end() && producer_[base] >= 0 && !member(base) &&
         is_view(*g_.nodes[producer_[base]].prim)) {
    base = g_.nodes[producer_[base]].inputs[0];
    arg = arg_of_value_.find(base);
  }
  if (arg == arg_of_value_.end()) {
    throw std::logic_error("[jit] planner: gather indices not in memory");
  }
  return arg->second;
}

int KernelEmitter::gather_index(int indices, const std::vector<int>& at, int64_t size,
                                int gathered) {
  int raw = b_->cast(emit_index(indices, at), int64);
  int wrapped = b_->add(raw, b_->index(size));
  int negative = b_->binary(BinaryOp::Less, raw, b_->index(0));
  // Checked as eager checks it: eval runs an eager gather, and so checks its
  // indices, only when its result has elements.
  const Shape& out = g_.values[gathered].shape;
  if (std::find(out.begin(), out.end(), 0) == out.end()) {
    range_checks_.push_back({index_arg(indices), size});
  }
  return b_->select(negative, wrapped, raw);
}

// Element idx of a concatenation: the input whose range along `axis`
// holds idx[axis], loaded at the shifted (clamped) index.
int KernelEmitter::emit_concat(const Graph::Node& n, int axis, const std::vector<int>& idx,
                               Dtype dtype) {
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  for (int u : n.inputs) {
    offsets.push_back(offset);
    offset += g_.values[u].shape[axis];
  }
  int r = -1;
  for (size_t j = n.inputs.size(); j-- > 0;) {
    const int64_t extent = g_.values[n.inputs[j]].shape[axis];
    if (extent == 0) continue;
    std::vector<int> ui = idx;
    int shifted = b_->add(idx[axis], b_->index(-offsets[j]));
    ui[axis] = b_->binary(BinaryOp::Minimum, b_->binary(BinaryOp::Maximum, shifted, b_->index(0)),
                          b_->index(extent - 1));
    int value = emit_index(n.inputs[j], ui);
    if (b_->dtype_of(value) != dtype) value = b_->cast(value, dtype);
    if (r < 0) {
      r = value;
    } else {
      int before_next = b_->binary(BinaryOp::Less, idx[axis], b_->index(offsets[j + 1]));
      r = b_->select(before_next, value, r);
    }
  }
  return r;
}

int KernelEmitter::emit_recomputed(int v, const std::vector<int>& idx) {
  const auto& n = g_.nodes[producer_[v]];
  const Primitive& p = *n.prim;
  std::vector<int> in;
  for (int u : n.inputs) {
    // Same rank (choose_recomputed): a size-1 dim is broadcast.
    const Shape& us = g_.values[u].shape;
    std::vector<int> ui(us.size());
    for (size_t i = 0; i < us.size(); ++i) ui[i] = us[i] == 1 ? zero() : idx[i];
    in.push_back(emit_index(u, ui));
  }
  const Dtype dtype = g_.values[v].dtype;
  const int r = apply_elementwise(p, in, dtype);
  return b_->dtype_of(r) != dtype ? b_->cast(r, dtype) : r;
}

int KernelEmitter::apply_elementwise(const Primitive& p, const std::vector<int>& in, Dtype dtype) {
  if (auto* un = dynamic_cast<const Unary*>(&p)) return b_->unary(un->op(), in[0]);
  if (auto* bin = dynamic_cast<const Binary*>(&p)) return b_->binary(bin->op(), in[0], in[1]);
  if (dynamic_cast<const Select*>(&p)) return b_->select(in[0], in[1], in[2]);
  if (dynamic_cast<const AsType*>(&p)) return b_->cast(in[0], dtype);
  if (dynamic_cast<const StopGradient*>(&p)) return in[0];
  throw std::logic_error("[jit] planner: " + p.name() + " is not elementwise");
}

int KernelEmitter::emit_value(int v, const std::vector<int>& axes) {
  if (member(v)) return emit_member(v);
  return emit_index(v, positional(g_.values[v].shape, axes));
}

int KernelEmitter::emit_member(int v) {
  auto m = memo_.find(v);
  if (m != memo_.end()) return m->second;
  const auto& n = g_.nodes[producer_[v]];
  const Primitive& p = *n.prim;
  const Dtype dtype = g_.values[v].dtype;
  int r;
  if (auto loc = local_of_value_.find(v); loc != local_of_value_.end()) {
    std::vector<int> idx;
    const auto& lshape = k_.locals[loc->second].shape;
    const auto& axes = local_axes_[loc->second];
    for (size_t i = 0; i < axes.size(); ++i) {
      idx.push_back(lshape[i] == 1 ? zero() : iter_[axes[i]]);
      if (idx.back() < 0) throw std::logic_error("[jit] planner: local read outside its axes");
    }
    r = b_->load_local(loc->second, dtype, idx);
  } else if (dynamic_cast<const Reduce*>(&p)) {
    throw std::logic_error("[jit] planner: reduction read before its phase");
  } else if (auto* cat = fusable_concat(p, n.inputs.size())) {
    r = emit_concat(n, cat->axis(), positional(g_.values[v].shape, vaxes_[v]), dtype);
  } else if (is_elementwise(p)) {
    std::vector<int> in;
    for (int u : n.inputs) in.push_back(emit_value(u, vaxes_[v]));
    r = apply_elementwise(p, in, dtype);
  } else {  // a view of a member: the same element at the same space point
    r = emit_member(n.inputs[0]);
  }
  if (b_->dtype_of(r) != dtype) r = b_->cast(r, dtype);
  memo_[v] = r;
  return r;
}

Kernel KernelEmitter::build(const std::vector<int>& args, const std::vector<int>& outs,
                            const std::string& name) {
  k_.name = name;
  store_prefix_.assign(outs.size(), 0);
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& val = g_.values[args[i]];
    int64_t size = 1;
    for (auto d : val.shape) size *= d;
    k_.args.push_back({val.dtype, size, false});
    arg_of_value_[args[i]] = static_cast<int>(i);
  }
  for (int v : outs) {
    const auto& val = g_.values[v];
    int64_t size = 1;
    for (auto d : val.shape) size *= d;
    k_.args.push_back({val.dtype, size, true});
  }
  // Space axes each reduction folds (dims of size 1 fold nothing).
  std::map<int, std::set<int>> folds;
  std::set<int> reduced;
  for (int node : grp_.members) {
    if (auto* r = dynamic_cast<const Reduce*>(g_.nodes[node].prim.get())) {
      const auto& in_axes = red_in_axes_.at(node);
      const Shape& in = g_.values[g_.nodes[node].inputs[0]].shape;
      for (int d : r->axes()) {
        if (in[d] > 1) folds[node].insert(in_axes[d]);
      }
      reduced.insert(folds[node].begin(), folds[node].end());
    }
  }
  for (int a = 0; a < static_cast<int>(grp_.space.size()); ++a) {
    (reduced.count(a) ? domain_axes_ : grid_axes_).push_back(a);
  }
  for (int a : grid_axes_) k_.grid.push_back(grp_.space[a]);

  // Phase plan: one Reduce phase per reduction (in order), then one store
  // phase per distinct output extent; expensive values read by several
  // phases are computed once into a local by a Map phase placed before
  // their first reader.
  struct Spec {
    enum Kind { ReducePhase, MaterializePhase, StorePhase } kind;
    int node = -1;                // ReducePhase
    int value = -1;               // MaterializePhase
    std::vector<int64_t> extent;  // StorePhase
    std::vector<size_t> outs;     // StorePhase
  };
  std::vector<Spec> specs;
  for (int node : grp_.members) {
    if (dynamic_cast<const Reduce*>(g_.nodes[node].prim.get())) {
      specs.push_back({Spec::ReducePhase, node});
    }
  }
  std::map<std::vector<int64_t>, std::vector<size_t>> by_extent;
  for (size_t o = 0; o < outs.size(); ++o) {
    std::vector<int64_t> ext;
    by_extent[extents_of(g_.values[outs[o]].shape, vaxes_[outs[o]])].push_back(o);
  }
  for (auto& [ext, list] : by_extent) specs.push_back({Spec::StorePhase, -1, -1, ext, list});
  choose_materializations(specs.size(), [&](size_t i) {
    std::vector<int> roots;
    if (specs[i].kind == Spec::ReducePhase) roots.push_back(g_.nodes[specs[i].node].inputs[0]);
    for (size_t o : specs[i].outs) roots.push_back(outs[o]);
    return roots;
  });
  std::vector<Spec> ordered;
  for (size_t i = 0; i < specs.size(); ++i) {
    for (auto& [v, first] : materialize_before_) {
      if (first == i) ordered.push_back({Spec::MaterializePhase, -1, v});
    }
    ordered.push_back(specs[i]);
  }

  for (const Spec& spec : ordered) {
    k_.phases.emplace_back();
    auto& ph = k_.phases.back();
    if (spec.kind == Spec::MaterializePhase) {
      compiler::LocalArray local{g_.values[spec.value].dtype,
                                 extents_of(g_.values[spec.value].shape, vaxes_[spec.value])};
      begin_phase(ph, local.shape);
      int value = emit_member(spec.value);
      int lid = static_cast<int>(k_.locals.size());
      k_.locals.push_back(local);
      local_axes_[lid] = domain_axes_;
      b_->materialize(lid, value);
      local_of_value_[spec.value] = lid;
    } else if (spec.kind == Spec::ReducePhase) {
      const auto& n = g_.nodes[spec.node];
      auto* r = dynamic_cast<const Reduce*>(n.prim.get());
      const auto& in_axes = red_in_axes_.at(spec.node);
      std::vector<int64_t> extents = extents_of(g_.values[n.inputs[0]].shape, in_axes);
      compiler::LocalArray local{r->out_dtype(), {}};
      std::vector<int> laxes, raxes;
      const auto& fold = folds[spec.node];
      for (size_t i = 0; i < domain_axes_.size(); ++i) {
        int a = domain_axes_[i];
        if (fold.count(a)) {
          raxes.push_back(static_cast<int>(i));
        } else {
          local.shape.push_back(extents[i]);
          laxes.push_back(a);
        }
      }
      ph.kind = compiler::PhaseKind::Reduce;
      ph.reduced_axes = raxes;
      begin_phase(ph, extents);
      int value = emit_value(n.inputs[0], in_axes);
      const bool logical = r->op() == ReduceOp::All || r->op() == ReduceOp::Any;
      Dtype acc = logical ? bool_ : r->out_dtype();
      if (b_->dtype_of(value) != acc) value = b_->cast(value, acc);
      int lid = static_cast<int>(k_.locals.size());
      local.dtype = acc;
      k_.locals.push_back(local);
      local_axes_[lid] = laxes;
      b_->reduce(r->op(), lid, value);
      local_of_value_[n.outputs[0]] = lid;
    } else {
      begin_phase(ph, spec.extent);
      for (size_t o : spec.outs) {
        int v = outs[o];
        const Shape& vs = g_.values[v].shape;
        Strides st = row_major_strides(vs);
        std::vector<int64_t> strides(st.begin(), st.end());
        for (size_t i = 0; i < vs.size(); ++i) {
          if (vs[i] == 1) strides[i] = 0;
        }
        std::vector<int> at = positional(vs, vaxes_[v]);
        store_prefix_[o] = own_prefix(at);
        int index = b_->linear_index(at, strides);
        b_->store(static_cast<int>(args.size() + o), index, emit_value(v, vaxes_[v]));
      }
    }
    b_.reset();
  }
  return k_;
}

}  // namespace mfx::jit_detail
