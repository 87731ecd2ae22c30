// Differentiation rules of the indexing primitives. Gathers are linear in the
// array (transpose: scatter-add); scatters are linear in the array and the
// updates; sort and top-k move values, so their rules gather/scatter through
// the permutation. Index arrays and index outputs carry no derivative.
#include "mfx/mfx.h"
#include "primitives/indexing.h"

namespace mfx {

namespace {

bool differentiable(const array& a) {
  return is_floating(a.dtype());
}

// Cotangent `g` of the values a[.., idx[..], ..] (positions along `axis`
// given by `idx`, which agrees with `g` off axis) summed back into a.
array scatter_back(const array& a, const array& idx, const array& g, int axis) {
  return scatter_add(zeros_like(a), idx, astype(g, a.dtype()), axis);
}

// The primal's tangent, or zeros when it was not requested.
array tangent_or_zeros(const array& primal, int arg, const std::vector<array>& tangents,
                       const std::vector<int>& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == arg) return astype(tangents[k], primal.dtype());
  }
  return zeros_like(primal);
}

// True for each update of a replacing scatter whose write survives: with
// duplicate indices only the last one in row-major order does.
array scatter_winners(const array& a, const array& idx, int axis) {
  int64_t n = 1;
  for (auto d : idx.shape()) n *= d;
  array pos = reshape(arange(n, int64), idx.shape());
  array owner = scatter(full(a.shape(), array(int64_t{-1}), int64), idx, pos, axis);
  return equal(take_along_axis(owner, idx, axis), pos);
}

}  // namespace

// take: a.shape[:axis] + idx.shape + a.shape[axis+1:]. The vjp flattens the
// index dims to one so that scatter_add (same rank as a) can sum them back.
std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &idx = primals[1];
  std::vector<array> res;
  for (int arg : argnums) {
    if (arg != 0 || !differentiable(a)) {
      res.push_back(zeros_like(primals[arg]));
      continue;
    }
    int64_t m = 1;
    for (auto d : idx.shape()) m *= d;
    Shape gs = a.shape();
    gs[axis_] = m;
    Shape is(a.ndim(), 1);
    is[axis_] = m;
    res.push_back(scatter_back(a, reshape(idx, is), reshape(cts[0], gs), axis_));
  }
  return res;
}

std::vector<array> Gather::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array &a = primals[0], &idx = primals[1];
  if (!differentiable(a)) return {zeros_like(take(a, idx, axis_))};
  return {take(tangent_or_zeros(a, 0, tangents, argnums), idx, axis_)};
}

// take_along_axis: both inputs are already broadcast to agree off axis.
std::vector<array> GatherAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &idx = primals[1];
  std::vector<array> res;
  for (int arg : argnums) {
    res.push_back(arg == 0 && differentiable(a) ? scatter_back(a, idx, cts[0], axis_)
                                                : zeros_like(primals[arg]));
  }
  return res;
}

std::vector<array> GatherAxis::jvp(const std::vector<array>& primals,
                                   const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  const array &a = primals[0], &idx = primals[1];
  if (!differentiable(a)) return {zeros(idx.shape(), a.dtype())};
  return {take_along_axis(tangent_or_zeros(a, 0, tangents, argnums), idx, axis_)};
}

// Inputs (a, idx, updates) with idx and updates of one shape. Add: a's
// cotangent is ct, the updates' is ct gathered at idx. Replace: overwritten
// entries of a get nothing, and only the winning duplicate of each position
// gets the cotangent there.
std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &idx = primals[1], &u = primals[2];
  const bool add = reduce_ == ScatterReduce::Add;
  array ct = astype(cts[0], a.dtype());
  std::vector<array> res;
  for (int arg : argnums) {
    if (arg == 1 || !differentiable(a)) {
      res.push_back(zeros_like(primals[arg]));
    } else if (arg == 0) {
      if (add) {
        res.push_back(ct);
      } else {
        array written = scatter(zeros(a.shape(), bool_), idx, ones(idx.shape(), bool_), axis_);
        res.push_back(where(written, zeros_like(a), ct));
      }
    } else {
      array g = take_along_axis(ct, idx, axis_);
      res.push_back(add ? g : where(scatter_winners(a, idx, axis_), g, zeros_like(u)));
    }
  }
  return res;
}

// Both modes are linear in (a, updates) jointly, and a replacing scatter
// picks the same winners for the tangents as for the primals.
std::vector<array> Scatter::jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  const array &a = primals[0], &idx = primals[1], &u = primals[2];
  if (!differentiable(a)) return {zeros_like(a)};
  array ta = tangent_or_zeros(a, 0, tangents, argnums);
  array tu = tangent_or_zeros(u, 2, tangents, argnums);
  return {reduce_ == ScatterReduce::Add ? scatter_add(ta, idx, tu, axis_)
                                        : scatter(ta, idx, tu, axis_)};
}

// sort(x) = take_along_axis(x, argsort(x)) with the same stable order.
std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(differentiable(x) ? scatter_back(x, argsort(x, axis_), cts[0], axis_)
                                    : zeros_like(x));
  }
  return res;
}

std::vector<array> Sort::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  if (!differentiable(x)) return {zeros_like(x)};
  return {take_along_axis(astype(tangents[0], x.dtype()), argsort(x, axis_), axis_)};
}

std::vector<array> ArgSort::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  return std::vector<array>(argnums.size(), zeros_like(primals[0]));
}

std::vector<array> ArgSort::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&) {
  return {zeros(primals[0].shape(), int32)};
}

// Outputs (values, indices): values = take_along_axis(x, indices); the
// indices output is piecewise constant. The indices are recomputed: when the
// caller dropped that output, outputs[1] is a placeholder with no inputs.
std::vector<array> TopK::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    res.push_back(differentiable(x) ? scatter_back(x, topk(x, k_, axis_).second, cts[0], axis_)
                                    : zeros_like(x));
  }
  return res;
}

std::vector<array> TopK::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  auto [values, indices] = topk(x, k_, axis_);
  array tv = differentiable(x) ? take_along_axis(astype(tangents[0], x.dtype()), indices, axis_)
                               : zeros_like(values);
  return {tv, zeros_like(indices)};
}

}  // namespace mfx
