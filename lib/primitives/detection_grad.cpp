// Differentiation rules of the ms_deform_attn and grid_sample families (the
// sample / dot / scatter decomposition of primitives/detection.h). Every
// rule is linear-algebra bookkeeping on three identities:
//   linearity in value and coefficients (and cotangents),
//   <ct, S_ab(v, c)> = <c, D_ab(v, ct)> = <v, T_ab(c, ct)>,
//   d/dx X_ab = X_(a+1)b and d/dy X_ab = X_a(b+1) for X in {S, D, T},
// with members of order 2 in x or y identically zero. The fused backward
// primitives differentiate their decomposition with the transforms.
#include <algorithm>
#include <memory>

#include "mfx/ops.h"
#include "mfx/transforms.h"
#include "primitives/detection.h"

namespace mfx {

namespace {

SampleOrder dx(SampleOrder o) {
  return {o.a + 1, o.b};
}
SampleOrder dy(SampleOrder o) {
  return {o.a, o.b + 1};
}
bool vanishes(SampleOrder o) {
  return o.a > 1 || o.b > 1;
}

// x[..., k] of a trailing (x, y) pair axis.
array component(const array& pairs, int k) {
  return squeeze(slice_axis(pairs, -1, k, k + 1), {-1});
}

array add_opt(const array& acc, const array& term) {
  return acc.valid() ? acc + term : term;
}

// ---------------------------------------------------------------- ms_deform_attn

struct Msda {
  SpatialShapes shapes;

  int64_t positions() const {
    int64_t s = 0;
    for (auto [h, w] : shapes) s += h * w;
    return s;
  }
  // S_ab(v, loc, coef) -> [B,Q,H*D]
  array sample(SampleOrder o, const array& v, const array& loc, const array& coef) const {
    Shape s{v.shape(0), loc.shape(1), v.shape(2) * v.shape(3)};
    if (vanishes(o)) return zeros(s, v.dtype());
    return array(s, v.dtype(), std::make_shared<MSDeformAttn>(shapes, o), {v, loc, coef});
  }
  // D_ab(v, loc, ct) -> [B,Q,H,L,P]
  array dot(SampleOrder o, const array& v, const array& loc, const array& ct) const {
    Shape s(loc.shape().begin(), loc.shape().end() - 1);
    if (vanishes(o)) return zeros(s, v.dtype());
    return array(s, v.dtype(), std::make_shared<MSDeformAttnDot>(shapes, o), {v, loc, ct});
  }
  // T_ab(loc, coef, ct) -> [B,S,H,D]
  array scatter(SampleOrder o, const array& loc, const array& coef, const array& ct) const {
    const int64_t h = loc.shape(2);
    Shape s{loc.shape(0), positions(), h, ct.shape(2) / h};
    if (vanishes(o)) return zeros(s, ct.dtype());
    return array(s, ct.dtype(), std::make_shared<MSDeformAttnScatter>(shapes, o), {loc, coef, ct});
  }
  // Cotangent of the locations from per-point weights `c` and the dot
  // primitive's arguments: [c D_(a+1)b, c D_a(b+1)].
  array loc_cotangent(SampleOrder o, const array& c, const array& v, const array& loc,
                      const array& ct) const {
    return stack({c * dot(dx(o), v, loc, ct), c * dot(dy(o), v, loc, ct)}, -1);
  }
};

}  // namespace

std::vector<array> MSDeformAttn::vjp(const std::vector<array>& primals,
                                     const std::vector<array>& cts, const std::vector<int>& argnums,
                                     const std::vector<array>&) {
  const array &v = primals[0], &loc = primals[1], &coef = primals[2];
  const array ct = astype(cts[0], v.dtype());
  const Msda f{shapes_};
  std::vector<array> res;
  // At order (0,0) one fused sweep yields every cotangent (cheaper than even
  // two of the separate kernels).
  if (order_ == SampleOrder{}) {
    auto all = array::make_arrays(
        {v.shape(), loc.shape(), coef.shape()}, {v.dtype(), v.dtype(), v.dtype()},
        std::make_shared<MSDeformAttnBackward>(shapes_), {v, loc, coef, ct});
    for (int k : argnums) res.push_back(all[k]);
    return res;
  }
  for (int k : argnums) {
    if (k == 0) res.push_back(f.scatter(order_, loc, coef, ct));
    if (k == 1) res.push_back(f.loc_cotangent(order_, coef, v, loc, ct));
    if (k == 2) res.push_back(f.dot(order_, v, loc, ct));
  }
  return res;
}

std::vector<array> MSDeformAttn::jvp(const std::vector<array>& primals,
                                     const std::vector<array>& tangents,
                                     const std::vector<int>& argnums) {
  const array &v = primals[0], &loc = primals[1], &coef = primals[2];
  const Msda f{shapes_};
  array out;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array t = astype(tangents[i], v.dtype());
    if (argnums[i] == 0) out = add_opt(out, f.sample(order_, t, loc, coef));
    if (argnums[i] == 1) {
      out = add_opt(out, f.sample(dx(order_), v, loc, coef * component(t, 0)) +
                             f.sample(dy(order_), v, loc, coef * component(t, 1)));
    }
    if (argnums[i] == 2) out = add_opt(out, f.sample(order_, v, loc, t));
  }
  return {out.valid() ? out : zeros_like(f.sample(order_, v, loc, coef))};
}

std::vector<array> MSDeformAttnDot::vjp(const std::vector<array>& primals,
                                        const std::vector<array>& cts,
                                        const std::vector<int>& argnums,
                                        const std::vector<array>&) {
  const array &v = primals[0], &loc = primals[1], &ct = primals[2];
  const array g = astype(cts[0], v.dtype());
  const Msda f{shapes_};
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) res.push_back(f.scatter(order_, loc, g, ct));
    if (k == 1) res.push_back(f.loc_cotangent(order_, g, v, loc, ct));
    if (k == 2) res.push_back(f.sample(order_, v, loc, g));
  }
  return res;
}

std::vector<array> MSDeformAttnDot::jvp(const std::vector<array>& primals,
                                        const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  const array &v = primals[0], &loc = primals[1], &ct = primals[2];
  const Msda f{shapes_};
  array out;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array t = astype(tangents[i], v.dtype());
    if (argnums[i] == 0) out = add_opt(out, f.dot(order_, t, loc, ct));
    if (argnums[i] == 1) {
      out = add_opt(out, f.dot(dx(order_), v, loc, ct) * component(t, 0) +
                             f.dot(dy(order_), v, loc, ct) * component(t, 1));
    }
    if (argnums[i] == 2) out = add_opt(out, f.dot(order_, v, loc, t));
  }
  return {out.valid() ? out : zeros_like(f.dot(order_, v, loc, ct))};
}

std::vector<array> MSDeformAttnScatter::vjp(const std::vector<array>& primals,
                                            const std::vector<array>& cts,
                                            const std::vector<int>& argnums,
                                            const std::vector<array>&) {
  const array &loc = primals[0], &coef = primals[1], &ct = primals[2];
  const array g = astype(cts[0], ct.dtype());
  const Msda f{shapes_};
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) res.push_back(f.loc_cotangent(order_, coef, g, loc, ct));
    if (k == 1) res.push_back(f.dot(order_, g, loc, ct));
    if (k == 2) res.push_back(f.sample(order_, g, loc, coef));
  }
  return res;
}

std::vector<array> MSDeformAttnScatter::jvp(const std::vector<array>& primals,
                                            const std::vector<array>& tangents,
                                            const std::vector<int>& argnums) {
  const array &loc = primals[0], &coef = primals[1], &ct = primals[2];
  const Msda f{shapes_};
  array out;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array t = astype(tangents[i], ct.dtype());
    if (argnums[i] == 0) {
      out = add_opt(out, f.scatter(dx(order_), loc, coef * component(t, 0), ct) +
                             f.scatter(dy(order_), loc, coef * component(t, 1), ct));
    }
    if (argnums[i] == 1) out = add_opt(out, f.scatter(order_, loc, t, ct));
    if (argnums[i] == 2) out = add_opt(out, f.scatter(order_, loc, coef, t));
  }
  return {out.valid() ? out : zeros_like(f.scatter(order_, loc, coef, ct))};
}

namespace {

// The fused backward's outputs written with the family members.
ArrayFn msda_backward_fn(const SpatialShapes& shapes) {
  return [shapes](const std::vector<array>& x) {
    const Msda f{shapes};
    const array &v = x[0], &loc = x[1], &w = x[2], &ct = x[3];
    return std::vector<array>{f.scatter({}, loc, w, ct), f.loc_cotangent({}, w, v, loc, ct),
                              f.dot({}, v, loc, ct)};
  };
}

// vjp / jvp of a fused backward primitive through its decomposition `fn`.
std::vector<array> decomposed_vjp(const ArrayFn& fn, const std::vector<array>& primals,
                                  const std::vector<array>& cts, const std::vector<int>& argnums) {
  std::vector<array> c;
  for (size_t k = 0; k < cts.size(); ++k) c.push_back(astype(cts[k], primals[0].dtype()));
  auto all = vjp(fn, primals, c).second;
  std::vector<array> res;
  for (int k : argnums) res.push_back(all[k]);
  return res;
}

std::vector<array> decomposed_jvp(const ArrayFn& fn, const std::vector<array>& primals,
                                  const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  std::vector<array> t;
  for (auto& p : primals) t.push_back(zeros_like(p));
  for (size_t i = 0; i < argnums.size(); ++i) {
    t[argnums[i]] = astype(tangents[i], primals[argnums[i]].dtype());
  }
  return jvp(fn, primals, t).second;
}

}  // namespace

std::vector<array> MSDeformAttnBackward::vjp(const std::vector<array>& primals,
                                             const std::vector<array>& cts,
                                             const std::vector<int>& argnums,
                                             const std::vector<array>&) {
  return decomposed_vjp(msda_backward_fn(shapes_), primals, cts, argnums);
}

std::vector<array> MSDeformAttnBackward::jvp(const std::vector<array>& primals,
                                             const std::vector<array>& tangents,
                                             const std::vector<int>& argnums) {
  return decomposed_jvp(msda_backward_fn(shapes_), primals, tangents, argnums);
}

// ---------------------------------------------------------------- grid_sample

namespace {

struct Grid {
  GridPadding padding;
  bool align;

  // S_ab(x, grid) -> [N,C,Ho,Wo]
  array sample(SampleOrder o, const array& x, const array& grid) const {
    Shape s{x.shape(0), x.shape(1), grid.shape(1), grid.shape(2)};
    if (vanishes(o)) return zeros(s, x.dtype());
    return array(s, x.dtype(), std::make_shared<GridSample>(padding, align, o), {x, grid});
  }
  // T_ab(grid, ct) -> [N,C,H,W]
  array scatter(SampleOrder o, const array& grid, const array& ct, int64_t h, int64_t w) const {
    Shape s{ct.shape(0), ct.shape(1), h, w};
    if (vanishes(o)) return zeros(s, ct.dtype());
    return array(s, ct.dtype(), std::make_shared<GridSampleScatter>(padding, align, o, h, w),
                 {grid, ct});
  }
  // Grid cotangent of S_ab(x, grid) under cotangent ct: channel sums of
  // ct * S_(a+1)b and ct * S_a(b+1).
  array grid_cotangent(SampleOrder o, const array& x, const array& grid, const array& ct) const {
    return stack({sum(ct * sample(dx(o), x, grid), 1), sum(ct * sample(dy(o), x, grid), 1)}, -1);
  }
};

// A per-point grid component [N,Ho,Wo] broadcast over channels.
array per_channel(const array& t) {
  return expand_dims(t, 1);
}

}  // namespace

std::vector<array> GridSample::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &grid = primals[1];
  const array ct = astype(cts[0], x.dtype());
  const Grid f{padding_, align_corners_};
  std::vector<array> res;
  // At order (0,0) with the grid cotangent wanted, the fused kernel; the
  // input cotangent alone is just the scatter.
  const bool wants_grid = std::find(argnums.begin(), argnums.end(), 1) != argnums.end();
  if (order_ == SampleOrder{} && wants_grid) {
    auto all = array::make_arrays({x.shape(), grid.shape()}, {x.dtype(), x.dtype()},
                                  std::make_shared<GridSampleBackward>(padding_, align_corners_),
                                  {x, grid, ct});
    for (int k : argnums) res.push_back(all[k]);
    return res;
  }
  for (int k : argnums) {
    if (k == 0) res.push_back(f.scatter(order_, grid, ct, x.shape(2), x.shape(3)));
    if (k == 1) res.push_back(f.grid_cotangent(order_, x, grid, ct));
  }
  return res;
}

std::vector<array> GridSample::jvp(const std::vector<array>& primals,
                                   const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  const array &x = primals[0], &grid = primals[1];
  const Grid f{padding_, align_corners_};
  array out;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array t = astype(tangents[i], x.dtype());
    if (argnums[i] == 0) out = add_opt(out, f.sample(order_, t, grid));
    if (argnums[i] == 1) {
      out = add_opt(out, f.sample(dx(order_), x, grid) * per_channel(component(t, 0)) +
                             f.sample(dy(order_), x, grid) * per_channel(component(t, 1)));
    }
  }
  return {out.valid() ? out : zeros_like(f.sample(order_, x, grid))};
}

std::vector<array> GridSampleScatter::vjp(const std::vector<array>& primals,
                                          const std::vector<array>& cts,
                                          const std::vector<int>& argnums,
                                          const std::vector<array>&) {
  const array &grid = primals[0], &ct = primals[1];
  const array g = astype(cts[0], ct.dtype());  // image-shaped
  const Grid f{padding_, align_corners_};
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) res.push_back(f.grid_cotangent(order_, g, grid, ct));
    if (k == 1) res.push_back(f.sample(order_, g, grid));
  }
  return res;
}

std::vector<array> GridSampleScatter::jvp(const std::vector<array>& primals,
                                          const std::vector<array>& tangents,
                                          const std::vector<int>& argnums) {
  const array &grid = primals[0], &ct = primals[1];
  const Grid f{padding_, align_corners_};
  array out;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array t = astype(tangents[i], ct.dtype());
    if (argnums[i] == 0) {
      out = add_opt(
          out, f.scatter(dx(order_), grid, ct * per_channel(component(t, 0)), height_, width_) +
                   f.scatter(dy(order_), grid, ct * per_channel(component(t, 1)), height_, width_));
    }
    if (argnums[i] == 1) out = add_opt(out, f.scatter(order_, grid, t, height_, width_));
  }
  return {out.valid() ? out : zeros_like(f.scatter(order_, grid, ct, height_, width_))};
}

namespace {

ArrayFn grid_backward_fn(GridPadding padding, bool align) {
  return [padding, align](const std::vector<array>& x) {
    const Grid f{padding, align};
    const array &input = x[0], &grid = x[1], &ct = x[2];
    return std::vector<array>{f.scatter({}, grid, ct, input.shape(2), input.shape(3)),
                              f.grid_cotangent({}, input, grid, ct)};
  };
}

}  // namespace

std::vector<array> GridSampleBackward::vjp(const std::vector<array>& primals,
                                           const std::vector<array>& cts,
                                           const std::vector<int>& argnums,
                                           const std::vector<array>&) {
  return decomposed_vjp(grid_backward_fn(padding_, align_corners_), primals, cts, argnums);
}

std::vector<array> GridSampleBackward::jvp(const std::vector<array>& primals,
                                           const std::vector<array>& tangents,
                                           const std::vector<int>& argnums) {
  return decomposed_jvp(grid_backward_fn(padding_, align_corners_), primals, tangents, argnums);
}

}  // namespace mfx
