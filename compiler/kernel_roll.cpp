// roll_phases: see kernel_roll.h.
#include "compiler/kernel_roll.h"

#include <algorithm>
#include <map>
#include <set>

#include "compiler/kernel_hash.h"

namespace mfx::compiler {

namespace {

// Runs longer than this many phases per repetition are not searched for.
constexpr size_t kMaxPeriod = 64;

// A phase's code with its args and locals renumbered in order of first use:
// two phases with equal `code` differ only in the buffers they touch, and
// args[i] / locals[i] of one correspond to args[i] / locals[i] of the other.
struct PhaseShape {
  KernelHash code;
  std::vector<int> args, locals;
};

PhaseShape phase_shape(const Kernel& k, const Phase& ph) {
  PhaseShape out;
  std::map<int, int> arg_id, local_id;
  auto arg = [&](int a) {
    auto [it, fresh] = arg_id.emplace(a, static_cast<int>(out.args.size()));
    if (fresh) out.args.push_back(a);
    return it->second;
  };
  auto local = [&](int l) {
    auto [it, fresh] = local_id.emplace(l, static_cast<int>(out.locals.size()));
    if (fresh) out.locals.push_back(l);
    return it->second;
  };
  Kernel one;
  one.grid = k.grid;
  Phase p = ph;
  for (Expr& e : p.exprs) {
    if (e.kind == ExprKind::Load) e.arg = arg(e.arg);
    for (int& c : e.choices) c = arg(c);
    if (e.kind == ExprKind::LoadLocal) e.local = local(e.local);
  }
  for (Store& s : p.stores) {
    s.arg = arg(s.arg);
    for (int& c : s.choices) c = arg(c);
  }
  for (Materialize& m : p.materializations) m.local = local(m.local);
  for (Reduction& r : p.reductions) r.local = local(r.local);
  // Whether a loaded arg is an output (written by an earlier part of a
  // stitched kernel) does not change the code.
  std::set<int> stored;
  for (const Store& st : p.stores) stored.insert(st.arg);
  for (size_t i = 0; i < out.args.size(); ++i) {
    const KernelArg& a = k.args[out.args[i]];
    one.args.push_back({a.dtype, a.size, stored.count(static_cast<int>(i)) > 0});
  }
  for (int l : out.locals) one.locals.push_back({k.locals[l].dtype, k.locals[l].shape});
  one.phases.push_back(std::move(p));
  out.code = kernel_hash(one, Target::Cpu, {});
  return out;
}

std::vector<int> written_locals(const Phase& ph) {
  std::vector<int> w;
  for (const auto& m : ph.materializations) w.push_back(m.local);
  for (const auto& r : ph.reductions) w.push_back(r.local);
  return w;
}

// Every expression id of a phase moved up by q (q new expressions in front).
void shift_ids(Phase& ph, int q) {
  for (Expr& e : ph.exprs) {
    for (int& o : e.operands) o += q;
  }
  for (Store& s : ph.stores) {
    s.index += q;
    s.value += q;
    if (!s.choices.empty()) s.choice += q;
  }
  for (Materialize& m : ph.materializations) m.value += q;
  for (Reduction& r : ph.reductions) r.value += q;
}

// A run that can be rolled: for each local the first repetition writes, the
// local each repetition writes in its place.
struct Run {
  size_t start = 0, period = 0, reps = 0;
  std::map<int, std::vector<int>> merged;  // first repetition's local -> one per repetition
};

// Checks that phases [start, start + reps * period) (equal code, position by
// position) can be rolled; fills run.merged.
bool check_run(const Kernel& k, const std::vector<PhaseShape>& shapes, Run& run) {
  const size_t s = run.start, P = run.period, R = run.reps;
  std::vector<std::set<int>> wrote_local(R), loads(R), stores(R);
  for (size_t i = s; i < s + R * P; ++i) {
    // Not rolled twice (a load already picking among buffers).
    for (const Expr& e : k.phases[i].exprs) {
      if (!e.choices.empty()) return false;
    }
    for (const Store& st : k.phases[i].stores) {
      if (!st.choices.empty()) return false;
    }
  }
  std::set<int> run_locals;
  for (size_t r = 0; r < R; ++r) {
    for (size_t p = 0; p < P; ++p) {
      const Phase& ph = k.phases[s + r * P + p];
      for (int l : written_locals(ph)) wrote_local[r].insert(l);
      for (const Expr& e : ph.exprs) {
        if (e.kind == ExprKind::Load) loads[r].insert(e.arg);  // no choices (checked above)
      }
      for (const Store& st : ph.stores) stores[r].insert(st.arg);
    }
    run_locals.insert(wrote_local[r].begin(), wrote_local[r].end());
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t o = 0; o < R; ++o) {
      if (o == r) continue;
      for (int a : stores[r]) {
        if (loads[o].count(a) || stores[o].count(a)) return false;
      }
    }
  }
  // Locals the run writes are written nowhere else.
  for (size_t i = 0; i < k.phases.size(); ++i) {
    if (i >= s && i < s + R * P) continue;
    for (int l : written_locals(k.phases[i])) {
      if (run_locals.count(l)) return false;
    }
  }
  std::map<int, int> slot_owner;  // a repetition's local -> first repetition's
  for (size_t p = 0; p < P; ++p) {
    const auto& first = shapes[s + p].locals;
    for (size_t r = 0; r < R; ++r) {
      const auto& here = shapes[s + r * P + p].locals;
      for (size_t i = 0; i < first.size(); ++i) {
        const int x0 = first[i], xr = here[i];
        if (!wrote_local[0].count(x0)) {
          // Read from before the run: the same local in every repetition.
          if (xr != x0 || run_locals.count(x0)) return false;
          continue;
        }
        if (!wrote_local[r].count(xr)) return false;
        auto& slots = run.merged[x0];
        slots.resize(R, -1);
        if (slots[r] >= 0 && slots[r] != xr) return false;
        slots[r] = xr;
        auto [it, fresh] = slot_owner.emplace(xr, x0);
        if (!fresh && it->second != x0) return false;
      }
    }
  }
  return true;
}

Kernel apply_run(const Kernel& k, const std::vector<PhaseShape>& shapes, const Run& run) {
  const size_t s = run.start, P = run.period, R = run.reps;
  const std::vector<char> full = full_reduction_locals(k);
  // New locals: merged ones widened by R in the first repetition's place,
  // the other repetitions' removed.
  std::map<int, std::pair<int, int>> slot_of;  // old local -> (first repetition's local, r)
  for (const auto& [x0, slots] : run.merged) {
    for (size_t r = 0; r < R; ++r) slot_of[slots[r]] = {x0, static_cast<int>(r)};
  }
  Kernel out;
  out.name = k.name;
  out.args = k.args;
  out.grid = k.grid;
  std::vector<int> new_id(k.locals.size(), -1);
  for (size_t l = 0; l < k.locals.size(); ++l) {
    auto it = slot_of.find(static_cast<int>(l));
    if (it != slot_of.end() && it->second.second != 0) continue;
    LocalArray local = k.locals[l];
    if (it != slot_of.end()) {
      std::vector<int64_t> shape{static_cast<int64_t>(R)};
      if (!full[l]) shape.insert(shape.end(), local.shape.begin(), local.shape.end());
      local.shape = shape;
    }
    new_id[l] = static_cast<int>(out.locals.size());
    out.locals.push_back(local);
  }
  for (size_t l = 0; l < k.locals.size(); ++l) {
    auto it = slot_of.find(static_cast<int>(l));
    if (it != slot_of.end()) new_id[l] = new_id[it->second.first];
  }
  // LoadLocal of a merged local: `rep` (an expression id) first, then the
  // old indices unless the local was one element.
  auto widen = [&](Expr& e, int rep) {
    const int old = e.local;
    e.local = new_id[old];
    if (full[old]) e.operands.clear();
    e.operands.insert(e.operands.begin(), rep);
  };
  for (size_t i = 0; i < s; ++i) {
    Phase ph = k.phases[i];
    for (Expr& e : ph.exprs) {
      if (e.kind == ExprKind::LoadLocal) e.local = new_id[e.local];
    }
    for (auto& m : ph.materializations) m.local = new_id[m.local];
    for (auto& r : ph.reductions) r.local = new_id[r.local];
    out.phases.push_back(std::move(ph));
  }
  for (size_t p = 0; p < P; ++p) {
    const Phase& first = k.phases[s + p];
    Phase ph = first;
    shift_ids(ph, 1);
    Expr rep{ExprKind::DomainIndex, int64, {}};
    rep.axis = 0;
    ph.exprs.insert(ph.exprs.begin(), rep);
    ph.domain.insert(ph.domain.begin(), static_cast<int64_t>(R));
    for (int& a : ph.reduced_axes) ++a;
    // The args at position i of the phase's first uses, per repetition.
    const auto& args0 = shapes[s + p].args;
    auto choices_for = [&](int arg) {
      const size_t i = std::find(args0.begin(), args0.end(), arg) - args0.begin();
      std::vector<int> c;
      bool differ = false;
      for (size_t r = 0; r < R; ++r) {
        c.push_back(shapes[s + r * P + p].args[i]);
        differ |= c.back() != arg;
      }
      return differ ? c : std::vector<int>{};
    };
    for (size_t x = 1; x < ph.exprs.size(); ++x) {
      Expr& e = ph.exprs[x];
      if (e.kind == ExprKind::DomainIndex) ++e.axis;
      if (e.kind == ExprKind::Load) {
        e.choices = choices_for(e.arg);
        if (!e.choices.empty()) e.operands.push_back(0);
      }
      if (e.kind == ExprKind::LoadLocal) {
        if (slot_of.count(e.local)) {
          widen(e, 0);
        } else {
          e.local = new_id[e.local];
        }
      }
    }
    for (Store& st : ph.stores) {
      st.choices = choices_for(st.arg);
      if (!st.choices.empty()) st.choice = 0;
    }
    for (auto& m : ph.materializations) m.local = new_id[m.local];
    for (auto& r : ph.reductions) r.local = new_id[r.local];
    out.phases.push_back(std::move(ph));
  }
  for (size_t i = s + R * P; i < k.phases.size(); ++i) {
    Phase ph = k.phases[i];
    bool reads_merged = false;
    for (const Expr& e : ph.exprs) {
      reads_merged |= e.kind == ExprKind::LoadLocal && slot_of.count(e.local);
    }
    if (reads_merged) {
      // Expressions 0..R-1: the repetition numbers.
      shift_ids(ph, static_cast<int>(R));
      std::vector<Expr> reps;
      for (size_t r = 0; r < R; ++r) {
        Expr c{ExprKind::Const, int64, {}};
        c.value = static_cast<double>(r);
        reps.push_back(c);
      }
      ph.exprs.insert(ph.exprs.begin(), reps.begin(), reps.end());
    }
    for (Expr& e : ph.exprs) {
      if (e.kind != ExprKind::LoadLocal) continue;
      auto it = slot_of.find(e.local);
      if (it != slot_of.end()) {
        widen(e, it->second.second);
      } else {
        e.local = new_id[e.local];
      }
    }
    for (auto& m : ph.materializations) m.local = new_id[m.local];
    for (auto& r : ph.reductions) r.local = new_id[r.local];
    out.phases.push_back(std::move(ph));
  }
  return out;
}

}  // namespace

Kernel roll_phases(const Kernel& kernel) {
  Kernel k = kernel;
  // Runs are rolled one at a time, left to right; each changes the phases
  // after it, so their shapes are taken again.
  for (size_t start = 0; start + 1 < k.phases.size();) {
    std::vector<PhaseShape> shapes;
    for (const Phase& ph : k.phases) shapes.push_back(phase_shape(k, ph));
    auto same = [&](size_t a, size_t b) {
      return shapes[a].code == shapes[b].code && k.phases[a].lane == k.phases[b].lane;
    };
    Run best;
    size_t best_saved = 0;
    const size_t n = k.phases.size();
    for (size_t P = 1; P <= std::min(kMaxPeriod, (n - start) / 2); ++P) {
      size_t R = 1;
      while (start + (R + 1) * P <= n) {
        bool equal = true;
        for (size_t p = 0; p < P && equal; ++p) equal = same(start + p, start + R * P + p);
        if (!equal) break;
        ++R;
      }
      // Fewer repetitions may still roll when the longest run does not.
      for (; R >= 2; --R) {
        size_t one = 0;
        for (size_t p = 0; p < P; ++p) one += k.phases[start + p].exprs.size();
        const size_t saved = (R - 1) * one;
        if (saved <= best_saved) break;
        Run run{start, P, R, {}};
        if (check_run(k, shapes, run)) {
          best = std::move(run);
          best_saved = saved;
          break;
        }
      }
    }
    if (best.reps < 2) {
      ++start;
      continue;
    }
    k = apply_run(k, shapes, best);
    start += best.period;
  }
  return k;
}

}  // namespace mfx::compiler
