// regrid and stitch: mechanical rewrites of Kernel IR (see kernel_stitch.h).
#include "compiler/kernel_stitch.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace mfx::compiler {

Kernel regrid(const Kernel& k, size_t keep) {
  if (keep >= k.grid.size()) return k;
  const std::vector<int64_t> moved(k.grid.begin() + keep, k.grid.end());
  const int q = static_cast<int>(moved.size());
  const std::vector<char> full = full_reduction_locals(k);
  Kernel out;
  out.name = k.name;
  out.args = k.args;
  out.grid.assign(k.grid.begin(), k.grid.begin() + keep);
  for (size_t l = 0; l < k.locals.size(); ++l) {
    LocalArray local{k.locals[l].dtype, moved};
    if (!full[l]) {
      local.shape.insert(local.shape.end(), k.locals[l].shape.begin(), k.locals[l].shape.end());
    }
    out.locals.push_back(local);
  }
  for (const Phase& ph : k.phases) {
    Phase np;
    np.kind = ph.kind;
    np.domain = moved;
    np.domain.insert(np.domain.end(), ph.domain.begin(), ph.domain.end());
    for (int a : ph.reduced_axes) np.reduced_axes.push_back(a + q);
    // The moved axes' indices first (ids 0..q-1), then the old expressions.
    for (int i = 0; i < q; ++i) {
      Expr e{ExprKind::DomainIndex, int64, {}};
      e.axis = i;
      np.exprs.push_back(e);
    }
    for (const Expr& old : ph.exprs) {
      Expr e = old;
      for (int& o : e.operands) o += q;
      if (e.kind == ExprKind::GridIndex && e.axis >= static_cast<int>(keep)) {
        e.kind = ExprKind::DomainIndex;
        e.axis -= static_cast<int>(keep);
      } else if (e.kind == ExprKind::DomainIndex) {
        e.axis += q;
      } else if (e.kind == ExprKind::LoadLocal) {
        std::vector<int> idx;
        for (int i = 0; i < q; ++i) idx.push_back(i);
        if (!full[e.local]) idx.insert(idx.end(), e.operands.begin(), e.operands.end());
        e.operands = idx;
      }
      np.exprs.push_back(e);
    }
    for (Store s : ph.stores) {
      s.index += q;
      s.value += q;
      if (!s.choices.empty()) s.choice += q;
      np.stores.push_back(std::move(s));
    }
    for (Materialize m : ph.materializations) np.materializations.push_back({m.local, m.value + q});
    for (Reduction r : ph.reductions) np.reductions.push_back({r.op, r.local, r.value + q});
    out.phases.push_back(std::move(np));
  }
  return out;
}

Kernel stitch(const std::vector<StitchPart>& parts, std::vector<KernelArg> args,
              const std::string& name, const std::vector<int>& lanes) {
  if (parts.empty()) throw std::logic_error("[stitch] no kernels to stitch");
  if (!lanes.empty() && lanes.size() != parts.size()) {
    throw std::logic_error(
        fmt::format("[stitch] {} lanes for {} kernels", lanes.size(), parts.size()));
  }
  Kernel out;
  out.name = name;
  out.args = std::move(args);
  out.grid = parts[0].kernel->grid;
  int num_lanes = 0;
  for (int l : lanes) num_lanes = std::max(num_lanes, l + 1);
  if (num_lanes > 0) out.grid.insert(out.grid.begin(), num_lanes);
  for (const StitchPart& part : parts) {
    const Kernel& k = *part.kernel;
    if (k.grid != std::vector<int64_t>(out.grid.begin() + (num_lanes > 0), out.grid.end())) {
      throw std::logic_error(fmt::format("[stitch] kernel '{}' has another grid than '{}'", k.name,
                                         parts[0].kernel->name));
    }
    if (part.arg_map.size() != k.args.size()) {
      throw std::logic_error(fmt::format("[stitch] kernel '{}': {} args, {} mapped", k.name,
                                         k.args.size(), part.arg_map.size()));
    }
    for (size_t a = 0; a < k.args.size(); ++a) {
      const int m = part.arg_map[a];
      if (m < 0 || m >= static_cast<int>(out.args.size()) || out.args[m].dtype != k.args[a].dtype ||
          out.args[m].size != k.args[a].size || (k.args[a].output && !out.args[m].output)) {
        throw std::logic_error(fmt::format(
            "[stitch] kernel '{}': arg {} maps to an incompatible arg {}", k.name, a, m));
      }
    }
    const int local0 = static_cast<int>(out.locals.size());
    const int region = static_cast<int>(&part - parts.data());
    for (LocalArray l : k.locals) {
      l.region = region;
      out.locals.push_back(std::move(l));
    }
    for (const Phase& ph : k.phases) {
      Phase np = ph;
      if (num_lanes > 0) np.lane = lanes[region];
      for (Expr& e : np.exprs) {
        if (e.kind == ExprKind::Load) {
          e.arg = part.arg_map[e.arg];
          for (int& c : e.choices) c = part.arg_map[c];
        }
        if (e.kind == ExprKind::LoadLocal) e.local += local0;
        if (e.kind == ExprKind::GridIndex && num_lanes > 0) ++e.axis;  // behind the lane axis
      }
      for (Store& s : np.stores) {
        s.arg = part.arg_map[s.arg];
        for (int& c : s.choices) c = part.arg_map[c];
      }
      for (Materialize& m : np.materializations) m.local += local0;
      for (Reduction& r : np.reductions) r.local += local0;
      out.phases.push_back(std::move(np));
    }
  }
  return out;
}

int64_t local_bytes(const Kernel& k) {
  int64_t n = 0;
  for (const auto& l : k.locals) n += l.size() * static_cast<int64_t>(size_of(l.dtype));
  return n;
}

}  // namespace mfx::compiler
