// CPU kernels of Reduce and ArgReduce.
//
// Reduce turns any input layout into a list of dims (outer -> inner) with
// non-negative strides, ordered by input stride and merged where contiguous;
// the order of a reduction's terms is free, so dims may be permuted and
// reversed. Then one of two loops runs:
//   row plan    - the innermost dim is reduced: each output reduces runs of
//                 the input with independent lanes (vectorisable);
//   column plan - the innermost dim is kept: whole input rows are combined
//                 into a tile of per-output lanes (vectorisable).
// Float32/half sums add in float lanes and fold each block of 2048 elements
// (or 128 rows of a column tile) into a double, so long sums stay accurate
// at float speed.
#include <algorithm>
#include <limits>
#include <vector>

#include "cpu/parallel.h"
#include "cpu/reduce_kernels.h"
#include "cpu/strided.h"
#include "primitives/reduction.h"

namespace mfx {

// The policies and inner loops of cpu/reduce_kernels.h.
using namespace cpu;

namespace {

// ------------------------------------------------------------------- plans

struct Dim {
  int64_t n;
  int64_t in;   // input stride
  int64_t out;  // output stride (0 for reduced dims)
  bool reduced;
};

struct Plan {
  std::vector<Dim> dims;  // outer -> inner
  int64_t in_base = 0;
  int64_t out_base = 0;
};

Plan make_plan(const array& x, const std::vector<int>& axes, const Strides& out_strides) {
  Plan plan;
  std::vector<bool> red(x.ndim(), false);
  for (int a : axes) red[a] = true;
  for (int d = 0; d < x.ndim(); ++d) {
    Dim dim{x.shape()[d], x.strides()[d], red[d] ? 0 : out_strides[d], red[d]};
    if (dim.n == 1) continue;
    if (dim.in < 0) {
      // Walk reversed dims forwards; a kept dim reverses its output too.
      plan.in_base += (dim.n - 1) * dim.in;
      dim.in = -dim.in;
      if (!dim.reduced) {
        plan.out_base += (dim.n - 1) * dim.out;
        dim.out = -dim.out;
      }
    }
    plan.dims.push_back(dim);
  }
  // Smallest input stride innermost; broadcast (stride 0) dims outermost.
  auto key = [](const Dim& d) { return d.in == 0 ? std::numeric_limits<int64_t>::max() : d.in; };
  std::stable_sort(plan.dims.begin(), plan.dims.end(),
                   [&](const Dim& a, const Dim& b) { return key(a) > key(b); });
  std::vector<Dim> merged;
  for (const Dim& d : plan.dims) {
    if (!merged.empty()) {
      Dim& o = merged.back();
      if (o.reduced == d.reduced && o.in == d.in * d.n && (d.reduced || o.out == d.out * d.n)) {
        o.n *= d.n;
        o.in = d.in;
        o.out = d.out;
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back({1, 1, 1, true});
  plan.dims = std::move(merged);
  return plan;
}

// A multi-index walk over some dims, tracking input and output offsets.
class Walk {
 public:
  explicit Walk(std::vector<Dim> dims) : dims_(std::move(dims)), idx_(dims_.size(), 0) {
    for (const Dim& d : dims_) count_ *= d.n;
  }
  int64_t count() const { return count_; }
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  void seek(int64_t linear) {
    in_ = out_ = 0;
    for (int d = static_cast<int>(dims_.size()) - 1; d >= 0; --d) {
      idx_[d] = linear % dims_[d].n;
      linear /= dims_[d].n;
      in_ += idx_[d] * dims_[d].in;
      out_ += idx_[d] * dims_[d].out;
    }
  }
  void next() {
    for (int d = static_cast<int>(dims_.size()) - 1; d >= 0; --d) {
      if (++idx_[d] < dims_[d].n) {
        in_ += dims_[d].in;
        out_ += dims_[d].out;
        return;
      }
      in_ -= dims_[d].in * (dims_[d].n - 1);
      out_ -= dims_[d].out * (dims_[d].n - 1);
      idx_[d] = 0;
    }
  }

 private:
  std::vector<Dim> dims_;
  std::vector<int64_t> idx_;
  int64_t count_ = 1;
  int64_t in_ = 0;
  int64_t out_ = 0;
};

// Dims before the innermost one, split into kept and reduced.
std::pair<Walk, Walk> outer_walks(const Plan& plan) {
  std::vector<Dim> kept, red;
  for (size_t i = 0; i + 1 < plan.dims.size(); ++i) {
    (plan.dims[i].reduced ? red : kept).push_back(plan.dims[i]);
  }
  return {Walk(std::move(kept)), Walk(std::move(red))};
}

// Elements below which a reduction runs on one thread: the vector loops
// take ~10 elements per ns, so smaller work does not pay for a hand-off.
constexpr int64_t kParallelWork = int64_t{1} << 21;
// Elements per partial result when one output's reduction is split.
constexpr int64_t kSplitChunk = 1 << 16;

// o[k] = sum of x[k N, k N + N) for K contiguous rows of N < the vector
// width, in reduce_run's order: a zero lane sum, then the elements one by one.
template <class P, int N>
void sum_short_rows(const typename P::In* x, typename P::Out* o, int64_t K) {
  using L = typename P::Lane;
  cpu::parallel_for(K, cpu::kElementwiseGrain / N, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      L t = 0;
      for (int i = 0; i < N; ++i) t += P::load(x[k * N + i]);
      o[k] = P::finish(P::merge(P::acc_init(), P::fold(P::acc_init(), t)));
    }
  });
}

// Innermost dim reduced: out[k] = merge over outer reduced r of run(k, r).
template <class P>
void run_rows(const Plan& plan, const typename P::In* x, typename P::Out* o) {
  using Acc = typename P::Acc;
  const Dim inner = plan.dims.back();
  const int64_t N = inner.n, s = inner.in;
  auto walks = outer_walks(plan);
  Walk& kept = walks.first;
  Walk& red = walks.second;
  const int64_t K = kept.count(), R = red.count();
  x += plan.in_base;
  o += plan.out_base;

  if (K < 8 && K * R * N >= kParallelWork) {
    // Few outputs of much work each: partial results over fixed chunks (the
    // same for any thread count), merged in order.
    for (int64_t k = 0; k < K; ++k) {
      kept.seek(k);
      const typename P::In* xk = x + kept.in();
      const int64_t per_r = N >= kSplitChunk ? (N + kSplitChunk - 1) / kSplitChunk : 0;
      const int64_t group = N >= kSplitChunk ? 1 : (kSplitChunk + N - 1) / N;
      const int64_t units = per_r > 0 ? R * per_r : (R + group - 1) / group;
      std::vector<Acc> partial(units, P::acc_init());
      cpu::parallel_for(units, 1, [&](int64_t u0, int64_t u1) {
        Walk rw = red;
        for (int64_t u = u0; u < u1; ++u) {
          if (per_r > 0) {
            rw.seek(u / per_r);
            const int64_t n0 = (u % per_r) * kSplitChunk;
            partial[u] = reduce_run<P>(xk + rw.in() + n0 * s, std::min(kSplitChunk, N - n0), s);
          } else {
            const int64_t r0 = u * group, r1 = std::min(R, r0 + group);
            rw.seek(r0);
            Acc a = P::acc_init();
            for (int64_t r = r0; r < r1; ++r, rw.next()) {
              a = P::merge(a, reduce_run<P>(xk + rw.in(), N, s));
            }
            partial[u] = a;
          }
        }
      });
      Acc a = P::acc_init();
      for (const Acc& p : partial) a = P::merge(a, p);
      o[kept.out()] = P::finish(a);
    }
    return;
  }

  if constexpr (P::kSimd == SimdKind::Sum) {
    // Short contiguous rows (the 4 coordinates of boxes, an L1 distance):
    // reduce_run would add each in order after its empty vector pass, so
    // the same adds inline, with the row length known, vectorise across rows.
    if (R == 1 && s == 1 && N <= 8 && plan.dims.size() == 2 && plan.dims[0].in == N &&
        plan.dims[0].out == 1) {
      switch (N) {
        case 2: return sum_short_rows<P, 2>(x, o, K);
        case 3: return sum_short_rows<P, 3>(x, o, K);
        case 4: return sum_short_rows<P, 4>(x, o, K);
        default: break;
      }
    }
  }
  const int64_t per_output = std::max<int64_t>(1, R * N);
  const int64_t grain = K * per_output >= kParallelWork
                            ? std::max<int64_t>(1, cpu::kElementwiseGrain / per_output)
                            : K;
  cpu::parallel_for(K, grain, [&](int64_t k0, int64_t k1) {
    Walk kw = kept, rw = red;
    kw.seek(k0);
    for (int64_t k = k0; k < k1; ++k, kw.next()) {
      Acc a = P::acc_init();
      rw.seek(0);
      for (int64_t r = 0; r < R; ++r, rw.next()) {
        a = P::merge(a, reduce_run<P>(x + kw.in() + rw.in(), N, s));
      }
      o[kw.out()] = P::finish(a);
    }
  });
}

// Innermost dim kept: input rows combine into tiles of per-output lanes.
template <class P>
void run_columns(const Plan& plan, const typename P::In* x, typename P::Out* o) {
  using Lane = typename P::Lane;
  using Acc = typename P::Acc;
  const Dim inner = plan.dims.back();
  const int64_t M = inner.n, s_in = inner.in, s_out = inner.out;
  auto walks = outer_walks(plan);
  Walk& kept = walks.first;
  Walk& red = walks.second;
  const int64_t K = kept.count(), R = red.count();
  x += plan.in_base;
  o += plan.out_base;

  const bool parallel = K * R * M >= kParallelWork;
  int64_t tile = std::min<int64_t>(M, 2048);
  const int threads = cpu::num_threads();
  if (parallel && K * ((M + tile - 1) / tile) < threads && M > 256) {
    tile = ((M + threads - 1) / threads + 15) / 16 * 16;  // one tile per thread
  }
  const int64_t tiles = (M + tile - 1) / tile;
  const int64_t tasks = K * tiles;
  const int64_t grain =
      parallel ? std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, R * tile))
               : tasks;
  cpu::parallel_for(tasks, grain, [&](int64_t t0, int64_t t1) {
    std::vector<Lane> lanes(tile);
    std::vector<Acc> accs(tile);
    Walk kw = kept, rw = red;
    for (int64_t t = t0; t < t1; ++t) {
      kw.seek(t / tiles);
      const int64_t j0 = (t % tiles) * tile, m = std::min(tile, M - j0);
      const typename P::In* xt = x + kw.in() + j0 * s_in;
      // Combines every reduced row into the tile; returns whether a NaN was met.
      auto run_tile = [&](auto fast) {
        constexpr bool kFast = decltype(fast)::value;
        std::fill(lanes.begin(), lanes.begin() + m, P::lane_init());
        std::fill(accs.begin(), accs.begin() + m, P::acc_init());
        int64_t since_fold = 0;
        auto maybe_fold = [&](int64_t rows) {
          if (P::kBlock > 0 && (since_fold += rows) >= kColumnBlock) {
            for (int64_t j = 0; j < m; ++j) {
              accs[j] = P::fold(accs[j], lanes[j]);
              lanes[j] = P::lane_init();
            }
            since_fold = 0;
          }
        };
        bool nan = false;
        rw.seek(0);
        int64_t r = 0;
        if (s_in == 1) {
          for (; r + 4 <= R; r += 4) {
            const typename P::In* p[4];
            for (int q = 0; q < 4; ++q, rw.next()) p[q] = xt + rw.in();
            nan |= accumulate_rows4<P, kFast>(lanes.data(), p[0], p[1], p[2], p[3], m);
            maybe_fold(4);
          }
        }
        for (; r < R; ++r, rw.next()) {
          nan |= accumulate_row<P, kFast>(lanes.data(), xt + rw.in(), m, s_in);
          maybe_fold(1);
        }
        return nan;
      };
      if (!kFastExtreme<P> || run_tile(std::bool_constant<kFastExtreme<P>>{})) {
        run_tile(std::false_type{});
      }
      typename P::Out* ot = o + kw.out() + j0 * s_out;
      for (int64_t j = 0; j < m; ++j) ot[j * s_out] = P::finish(P::fold(accs[j], lanes[j]));
    }
  });
}

template <class P>
void reduce(const array& x, array& o, const std::vector<int>& axes) {
  using Out = typename P::Out;
  Out* out = o.data_ptr<Out>();
  if (x.size() == 0) {  // empty reduced extent: the identity
    std::fill(out, out + o.size(), P::finish(P::acc_init()));
    return;
  }
  Plan plan = make_plan(x, axes, o.strides());
  const typename P::In* in = x.data_ptr<typename P::In>();
  if (plan.dims.back().reduced) {
    run_rows<P>(plan, in, out);
  } else {
    run_columns<P>(plan, in, out);
  }
}

[[noreturn]] void unsupported(ReduceOp op, Dtype in, Dtype out) {
  throw std::logic_error(fmt::format("[{}] unsupported dtypes {} -> {}", reduce_op_name(op),
                                     dtype_name(in), dtype_name(out)));
}

template <typename T>
void reduce_sum_or_prod(ReduceOp op, const array& x, array& o, const std::vector<int>& axes) {
  const bool prod = op == ReduceOp::Prod;
  const Dtype od = o.dtype();
  if constexpr (std::is_floating_point_v<compute_t<T>>) {
    if (prod && od == x.dtype()) return reduce<FloatProd<T>>(x, o, axes);
    if (!prod && od == x.dtype()) return reduce<FloatSum<T, T>>(x, o, axes);
  } else {
    if (od == int32 && x.dtype() != int64) {
      return prod ? reduce<IntArith<T, int32_t, true>>(x, o, axes)
                  : reduce<IntArith<T, int32_t, false>>(x, o, axes);
    }
    if (od == int64 && x.dtype() == int64) {
      return prod ? reduce<IntArith<T, int64_t, true>>(x, o, axes)
                  : reduce<IntArith<T, int64_t, false>>(x, o, axes);
    }
  }
  if (!prod && od == float32) return reduce<FloatSum<T, float>>(x, o, axes);
  unsupported(op, x.dtype(), od);
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  array& o = out[0];
  o.allocate();
  if (o.size() == 0) return;
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op_) {
      case ReduceOp::Sum:
      case ReduceOp::Prod:
        return reduce_sum_or_prod<T>(op_, x, o, axes_);
      case ReduceOp::Max:
        if (o.dtype() != x.dtype()) unsupported(op_, x.dtype(), o.dtype());
        return reduce<Extreme<T, true>>(x, o, axes_);
      case ReduceOp::Min:
        if (o.dtype() != x.dtype()) unsupported(op_, x.dtype(), o.dtype());
        return reduce<Extreme<T, false>>(x, o, axes_);
      case ReduceOp::All:
        if (o.dtype() != bool_) unsupported(op_, x.dtype(), o.dtype());
        return reduce<Logical<T, true>>(x, o, axes_);
      case ReduceOp::Any:
        if (o.dtype() != bool_) unsupported(op_, x.dtype(), o.dtype());
        return reduce<Logical<T, false>>(x, o, axes_);
    }
  });
}

// -------------------------------------------------------------- ArgReduce

namespace {

// True when x should replace the current best (strictly better; the first
// NaN is the extreme and is never replaced).
template <typename C, bool IsMax>
inline bool arg_better(C x, C best) {
  if constexpr (std::is_floating_point_v<C>) {
    if (best != best) return false;
    if (x != x) return true;
  }
  return IsMax ? x > best : x < best;
}

// Index of the first max (min) of n values at p with stride s: the extreme
// value by the (vectorised) reduction, then a scan for its first position.
template <typename T, bool IsMax>
int64_t first_extreme(const T* p, int64_t n, int64_t s) {
  using C = load_t<T>;
  const C best = reduce_run<Extreme<T, IsMax>>(p, n, s);
  if constexpr (std::is_floating_point_v<C>) {
    if (best != best) {
      for (int64_t i = 0; i < n; ++i) {
        if (C(p[i * s]) != C(p[i * s])) return i;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (C(p[i * s]) == best) return i;
  }
  return 0;
}

template <typename T, bool IsMax>
void arg_reduce(const array& x, array& o, int axis) {
  using C = load_t<T>;
  const int64_t n = x.shape()[axis];
  const int64_t s = x.strides()[axis];
  Shape shape = x.shape();
  Strides in_st = x.strides(), out_st = o.strides();
  shape.erase(shape.begin() + axis);
  in_st.erase(in_st.begin() + axis);
  out_st.erase(out_st.begin() + axis);
  const T* xp = x.data_ptr<T>();
  int32_t* op = o.data_ptr<int32_t>();
  cpu::for_each_row<2>(
      shape, {&in_st, &out_st},
      [&](std::array<int64_t, 2> off, int64_t m, std::array<int64_t, 2> inc) {
        const T* xr = xp + off[0];
        int32_t* orow = op + off[1];
        if (inc[0] == 1 && s != 1) {
          // Neighbouring outputs are neighbours in memory: walk the axis once,
          // comparing whole rows (each output's first best stays).
          constexpr int64_t kTile = 1024;
          C best[kTile];
          for (int64_t j0 = 0; j0 < m; j0 += kTile) {
            const int64_t len = std::min(kTile, m - j0);
            for (int64_t j = 0; j < len; ++j) {
              best[j] = C(xr[j0 + j]);
              orow[(j0 + j) * inc[1]] = 0;
            }
            for (int64_t i = 1; i < n; ++i) {
              const T* row = xr + i * s + j0;
              for (int64_t j = 0; j < len; ++j) {
                C v = C(row[j]);
                if (arg_better<C, IsMax>(v, best[j])) {
                  best[j] = v;
                  orow[(j0 + j) * inc[1]] = static_cast<int32_t>(i);
                }
              }
            }
          }
          return;
        }
        for (int64_t j = 0; j < m; ++j) {
          orow[j * inc[1]] = static_cast<int32_t>(first_extreme<T, IsMax>(xr + j * inc[0], n, s));
        }
      },
      /*parallel=*/true);
}

}  // namespace

void ArgReduce::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  array& o = out[0];
  o.allocate();
  if (o.size() == 0) return;
  if (x.shape()[axis_] == 0) {
    throw std::invalid_argument(fmt::format("[{}] cannot reduce empty axis {} of shape {}", name(),
                                            axis_, shape_str(x.shape())));
  }
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (op_ == ArgReduceOp::ArgMax) {
      arg_reduce<T, true>(x, o, axis_);
    } else {
      arg_reduce<T, false>(x, o, axis_);
    }
  });
}

}  // namespace mfx
