// CPU kernels of the ms_deform_attn and grid_sample primitive families (see
// primitives/detection.h for the sample / dot / scatter decomposition).
//
// Every kernel computes in compute_t<T> on row-major copies of its inputs.
// ms_deform_attn keeps channels innermost ([.., H, D] value rows), so each
// sampled corner is one contiguous D-vector; sample and dot thread over
// (batch, query). Kernels that scatter-add into a value-shaped result
// (scatter, fused backward) thread over (batch, head) instead: a task then
// only touches its own head slice and runs queries in a fixed order, so
// results are deterministic without atomics or per-thread buffers (the
// parallelism is B*H tasks). grid_sample's scatters likewise give each
// (image, channel) plane to one task.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu/copy.h"
#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "primitives/detection.h"

namespace mfx {

namespace {

using cpu::compute_t;

// Row-major contents of an evaluated input in the compute type C.
template <typename C>
class Input {
 public:
  explicit Input(const array& a) {
    if (a.dtype() == dtype_of<C>) {
      keep_ = cpu::row_contiguous(a);
      ptr_ = keep_.data_ptr<C>();
    } else {
      scratch_.resize(static_cast<size_t>(a.size()));
      cpu::copy_to_row_major(a, scratch_.data(), dtype_of<C>);
      ptr_ = scratch_.data();
    }
  }
  const C* get() const { return ptr_; }

 private:
  array keep_;
  std::vector<C> scratch_;
  const C* ptr_ = nullptr;
};

// Zero-initialised accumulation target for an output: the output buffer
// itself when T is C, else a C buffer converted into the output by finish().
template <typename T, typename C>
class Output {
 public:
  explicit Output(array& out) : out_(out) {
    out.allocate();
    if constexpr (std::is_same_v<T, C>) {
      ptr_ = out.data_ptr<C>();
      std::fill(ptr_, ptr_ + out.size(), C(0));
    } else {
      scratch_.assign(static_cast<size_t>(out.size()), C(0));
      ptr_ = scratch_.data();
    }
  }
  C* get() { return ptr_; }
  void finish() {
    if constexpr (!std::is_same_v<T, C>) {
      cpu::convert_contiguous(ptr_, dtype_of<C>, out_.raw_data(), out_.dtype(), out_.size());
    }
  }

 private:
  array& out_;
  std::vector<C> scratch_;
  C* ptr_ = nullptr;
};

// The four corners of a bilinear sample, ordered (y0,x0), (y0,x1), (y1,x0),
// (y1,x1): plane offset y * w + x (-1 outside the plane), interpolation
// weight and the weight's derivatives d/dx, d/dy and d2/dxdy (the other
// second derivatives are 0).
template <typename C>
struct Corners {
  int64_t idx[4];
  C w[4], dx[4], dy[4], dxy[4];
};

// Corner weights of derivative order `o`, times `scale`.
template <typename C>
void order_weights(const Corners<C>& c, SampleOrder o, C scale, C out[4]) {
  const C* src = o.a == 0 ? (o.b == 0 ? c.w : c.dy) : (o.b == 0 ? c.dx : c.dxy);
  for (int k = 0; k < 4; ++k) out[k] = src[k] * scale;
}

// Fills `c` for pixel coordinates (x, y) in an h x w plane (pixel centres at
// integers). Returns false when no corner is inside, i.e. the sample is 0 with
// zero padding (this also rejects NaN coordinates).
template <typename C>
bool bilinear(C x, C y, int64_t h, int64_t w, Corners<C>& c) {
  if (!(x > C(-1) && y > C(-1) && x < C(w) && y < C(h))) return false;
  const C fx = std::floor(x), fy = std::floor(y);
  const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const C ax = x - fx, ay = y - fy, bx = C(1) - ax, by = C(1) - ay;
  const C w4[4] = {by * bx, by * ax, ay * bx, ay * ax};
  const C dx4[4] = {-by, by, -ay, ay};
  const C dy4[4] = {-bx, -ax, bx, ax};
  const C dxy4[4] = {1, -1, -1, 1};
  for (int k = 0; k < 4; ++k) {
    const int64_t yy = y0 + (k >> 1), xx = x0 + (k & 1);
    c.idx[k] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? yy * w + xx : -1;
    c.w[k] = w4[k];
    c.dx[k] = dx4[k];
    c.dy[k] = dy4[k];
    c.dxy[k] = dxy4[k];
  }
  return true;
}

// ---------------------------------------------------------------- ms_deform_attn

struct MsdaDims {
  int64_t b, s, h, d, q, l, p;
  std::vector<int64_t> start;  // first position of each level in value
};

// Sizes from the locations [B,Q,H,L,P,2] and the channels per head.
MsdaDims msda_dims(const array& loc, int64_t channels, const SpatialShapes& shapes) {
  MsdaDims m;
  m.b = loc.shape()[0], m.q = loc.shape()[1], m.h = loc.shape()[2];
  m.l = loc.shape()[3], m.p = loc.shape()[4], m.d = channels;
  m.s = 0;
  for (auto [hl, wl] : shapes) {
    m.start.push_back(m.s);
    m.s += hl * wl;
  }
  return m;
}

// (dx_pixel / dx_loc)^a (dy_pixel / dy_loc)^b: the chain-rule factor of an
// order-(a, b) member with respect to the normalised location.
template <typename C>
C level_scale(SampleOrder o, int64_t hl, int64_t wl) {
  return (o.a ? C(wl) : C(1)) * (o.b ? C(hl) : C(1));
}

// Items of (batch, query) per task: about 32k multiply-adds each.
int64_t msda_grain(const MsdaDims& m) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, m.h * m.l * m.p * 4 * m.d));
}

// S_ab: (value, locations, coefficients) -> [B,Q,H*D].
template <typename T>
void msda_sample(const std::vector<array>& in, array& out, const SpatialShapes& shapes,
                 SampleOrder order) {
  using C = compute_t<T>;
  const MsdaDims m = msda_dims(in[1], in[0].shape()[3], shapes);
  Input<C> value(in[0]), loc(in[1]), coef(in[2]);
  Output<T, C> res(out);
  const C *vp = value.get(), *lp = loc.get(), *cp = coef.get();
  C* op = res.get();
  const int64_t row = m.h * m.d;  // elements per value position
  cpu::parallel_for(m.b * m.q, msda_grain(m), [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    C kw[4];
    for (int64_t bq = r0; bq < r1; ++bq) {
      const int64_t b = bq / m.q;
      for (int64_t h = 0; h < m.h; ++h) {
        C* acc = op + (bq * m.h + h) * m.d;
        const C* vbase = vp + b * m.s * row + h * m.d;
        for (int64_t l = 0; l < m.l; ++l) {
          const int64_t hl = shapes[l].first, wl = shapes[l].second;
          const C scale = level_scale<C>(order, hl, wl);
          const C* vlevel = vbase + m.start[l] * row;
          for (int64_t p = 0; p < m.p; ++p) {
            const int64_t i = ((bq * m.h + h) * m.l + l) * m.p + p;
            const C x = lp[2 * i] * C(wl) - C(0.5), y = lp[2 * i + 1] * C(hl) - C(0.5);
            if (!bilinear(x, y, hl, wl, c)) continue;
            order_weights(c, order, scale * cp[i], kw);
            for (int k = 0; k < 4; ++k) {
              if (c.idx[k] < 0) continue;
              const C* v = vlevel + c.idx[k] * row;
              const C coef_k = kw[k];
              for (int64_t d = 0; d < m.d; ++d) acc[d] += coef_k * v[d];
            }
          }
        }
      }
    }
  });
  res.finish();
}

// D_ab: (value, locations, cotangent [B,Q,H*D]) -> [B,Q,H,L,P].
template <typename T>
void msda_dot(const std::vector<array>& in, array& out, const SpatialShapes& shapes,
              SampleOrder order) {
  using C = compute_t<T>;
  const MsdaDims m = msda_dims(in[1], in[0].shape()[3], shapes);
  Input<C> value(in[0]), loc(in[1]), cot(in[2]);
  Output<T, C> res(out);
  const C *vp = value.get(), *lp = loc.get(), *gp = cot.get();
  C* op = res.get();
  const int64_t row = m.h * m.d;
  cpu::parallel_for(m.b * m.q, msda_grain(m), [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    C kw[4];
    for (int64_t bq = r0; bq < r1; ++bq) {
      const int64_t b = bq / m.q;
      for (int64_t h = 0; h < m.h; ++h) {
        const C* g = gp + (bq * m.h + h) * m.d;
        const C* vbase = vp + b * m.s * row + h * m.d;
        for (int64_t l = 0; l < m.l; ++l) {
          const int64_t hl = shapes[l].first, wl = shapes[l].second;
          const C* vlevel = vbase + m.start[l] * row;
          for (int64_t p = 0; p < m.p; ++p) {
            const int64_t i = ((bq * m.h + h) * m.l + l) * m.p + p;
            const C x = lp[2 * i] * C(wl) - C(0.5), y = lp[2 * i + 1] * C(hl) - C(0.5);
            if (!bilinear(x, y, hl, wl, c)) continue;
            order_weights(c, order, level_scale<C>(order, hl, wl), kw);
            C total = 0;
            for (int k = 0; k < 4; ++k) {
              if (c.idx[k] < 0) continue;
              const C* v = vlevel + c.idx[k] * row;
              C dot = 0;
              for (int64_t d = 0; d < m.d; ++d) dot += g[d] * v[d];
              total += kw[k] * dot;
            }
            op[i] = total;
          }
        }
      }
    }
  });
  res.finish();
}

// T_ab: (locations, coefficients, cotangent [B,Q,H*D]) -> [B,S,H,D].
template <typename T>
void msda_scatter(const std::vector<array>& in, array& out, const SpatialShapes& shapes,
                  SampleOrder order) {
  using C = compute_t<T>;
  const MsdaDims m = msda_dims(in[0], out.shape()[3], shapes);
  Input<C> loc(in[0]), coef(in[1]), cot(in[2]);
  Output<T, C> res(out);
  const C *lp = loc.get(), *cp = coef.get(), *gp = cot.get();
  C* op = res.get();
  const int64_t row = m.h * m.d;
  cpu::parallel_for(m.b * m.h, 1, [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    C kw[4];
    for (int64_t bh = r0; bh < r1; ++bh) {
      const int64_t b = bh / m.h, h = bh % m.h;
      C* obase = op + b * m.s * row + h * m.d;
      for (int64_t q = 0; q < m.q; ++q) {
        const int64_t bq = b * m.q + q;
        const C* g = gp + (bq * m.h + h) * m.d;
        for (int64_t l = 0; l < m.l; ++l) {
          const int64_t hl = shapes[l].first, wl = shapes[l].second;
          const C scale = level_scale<C>(order, hl, wl);
          C* olevel = obase + m.start[l] * row;
          for (int64_t p = 0; p < m.p; ++p) {
            const int64_t i = ((bq * m.h + h) * m.l + l) * m.p + p;
            const C x = lp[2 * i] * C(wl) - C(0.5), y = lp[2 * i + 1] * C(hl) - C(0.5);
            if (!bilinear(x, y, hl, wl, c)) continue;
            order_weights(c, order, scale * cp[i], kw);
            for (int k = 0; k < 4; ++k) {
              if (c.idx[k] < 0) continue;
              C* o = olevel + c.idx[k] * row;
              const C coef_k = kw[k];
              for (int64_t d = 0; d < m.d; ++d) o[d] += coef_k * g[d];
            }
          }
        }
      }
    }
  });
  res.finish();
}

template <typename T>
void msda_backward(const std::vector<array>& in, std::vector<array>& out,
                   const SpatialShapes& shapes) {
  using C = compute_t<T>;
  const MsdaDims m = msda_dims(in[1], in[0].shape()[3], shapes);
  Input<C> value(in[0]), loc(in[1]), weight(in[2]), cot(in[3]);
  Output<T, C> gvalue(out[0]), gloc(out[1]), gweight(out[2]);
  const C *vp = value.get(), *lp = loc.get(), *wp = weight.get(), *gp = cot.get();
  C *gvp = gvalue.get(), *glp = gloc.get(), *gwp = gweight.get();
  const int64_t row = m.h * m.d;
  // One task per (batch, head): it owns grad_value[b, :, h, :] and the
  // location/weight gradients of that head, so no two tasks write the same
  // element and each accumulates in a fixed order.
  cpu::parallel_for(m.b * m.h, 1, [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    for (int64_t bh = r0; bh < r1; ++bh) {
      const int64_t b = bh / m.h, h = bh % m.h;
      const C* vbase = vp + b * m.s * row + h * m.d;
      C* gvbase = gvp + b * m.s * row + h * m.d;
      for (int64_t q = 0; q < m.q; ++q) {
        const int64_t bq = b * m.q + q;
        const C* g = gp + (bq * m.h + h) * m.d;
        for (int64_t l = 0; l < m.l; ++l) {
          const int64_t hl = shapes[l].first, wl = shapes[l].second;
          const C* vlevel = vbase + m.start[l] * row;
          C* gvlevel = gvbase + m.start[l] * row;
          for (int64_t p = 0; p < m.p; ++p) {
            const int64_t i = ((bq * m.h + h) * m.l + l) * m.p + p;
            const C x = lp[2 * i] * C(wl) - C(0.5), y = lp[2 * i + 1] * C(hl) - C(0.5);
            if (!bilinear(x, y, hl, wl, c)) continue;
            const C aw = wp[i];
            C dots[4] = {0, 0, 0, 0};  // <cotangent, corner value>
            for (int k = 0; k < 4; ++k) {
              if (c.idx[k] < 0) continue;
              const C* v = vlevel + c.idx[k] * row;
              C* gv = gvlevel + c.idx[k] * row;
              const C coef = aw * c.w[k];
              C dot = 0;
              for (int64_t d = 0; d < m.d; ++d) {
                dot += g[d] * v[d];
                gv[d] += coef * g[d];
              }
              dots[k] = dot;
            }
            C sw = 0, sx = 0, sy = 0;
            for (int k = 0; k < 4; ++k) {
              sw += c.w[k] * dots[k];
              sx += c.dx[k] * dots[k];
              sy += c.dy[k] * dots[k];
            }
            gwp[i] = sw;
            glp[2 * i] = aw * C(wl) * sx;
            glp[2 * i + 1] = aw * C(hl) * sy;
          }
        }
      }
    }
  });
  gvalue.finish();
  gloc.finish();
  gweight.finish();
}

// ---------------------------------------------------------------- grid_sample

struct GridDims {
  int64_t n, c, h, w, ho, wo;
};

// Sizes from an [N,C,H,W] image-shaped array and the grid.
GridDims grid_dims(const array& image, const array& grid) {
  return {image.shape()[0], image.shape()[1], image.shape()[2],
          image.shape()[3], grid.shape()[1],  grid.shape()[2]};
}

// Pixel coordinate of normalised grid value g along an axis of `size`
// pixels; `scale` receives d(coordinate)/dg (0 where border clamps).
template <typename C>
C source_coord(C g, int64_t size, GridPadding padding, bool align_corners, C& scale) {
  C x;
  if (align_corners) {
    scale = C(size - 1) / C(2);
    x = (g + C(1)) * scale;
  } else {
    scale = C(size) / C(2);
    x = ((g + C(1)) * C(size) - C(1)) / C(2);
  }
  if (padding == GridPadding::border) {
    // Clamped coordinates do not move with g; NaN stays NaN (sampled as 0).
    const C hi = C(size - 1);
    if (x <= C(0) || x >= hi) {
      scale = C(0);
      x = x >= hi ? hi : C(0);
    }
  }
  return x;
}

// Corners of the sample at grid point `r` (flat over N*Ho*Wo) and the
// coordinate scales; false when the sample is 0.
template <typename C>
bool grid_corners(const C* grid, int64_t r, const GridDims& g, GridPadding padding, bool align,
                  Corners<C>& c, C& sx, C& sy) {
  const C x = source_coord(grid[2 * r], g.w, padding, align, sx);
  const C y = source_coord(grid[2 * r + 1], g.h, padding, align, sy);
  return bilinear(x, y, g.h, g.w, c);
}

// S_ab: (input, grid) -> [N,C,Ho,Wo].
template <typename T>
void grid_sample_kernel(const std::vector<array>& in, array& out, GridPadding padding, bool align,
                        SampleOrder order) {
  using C = compute_t<T>;
  const GridDims g = grid_dims(in[0], in[1]);
  Input<C> input(in[0]), grid(in[1]);
  Output<T, C> res(out);
  const C *ip = input.get(), *gp = grid.get();
  C* op = res.get();
  const int64_t plane = g.h * g.w, oplane = g.ho * g.wo;
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, g.c));
  cpu::parallel_for(g.n * oplane, grain, [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    C kw[4];
    for (int64_t r = r0; r < r1; ++r) {
      C sx, sy;
      if (!grid_corners(gp, r, g, padding, align, c, sx, sy)) continue;
      order_weights(c, order, (order.a ? sx : C(1)) * (order.b ? sy : C(1)), kw);
      const int64_t n = r / oplane, pos = r % oplane;
      for (int64_t ch = 0; ch < g.c; ++ch) {
        const C* src = ip + (n * g.c + ch) * plane;
        C acc = 0;
        for (int k = 0; k < 4; ++k) {
          if (c.idx[k] >= 0) acc += kw[k] * src[c.idx[k]];
        }
        op[(n * g.c + ch) * oplane + pos] = acc;
      }
    }
  });
  res.finish();
}

// T_ab: (grid, cotangent [N,C,Ho,Wo]) -> [N,C,H,W]; one task per plane.
template <typename T>
void grid_scatter_kernel(const std::vector<array>& in, array& out, GridPadding padding, bool align,
                         SampleOrder order) {
  using C = compute_t<T>;
  const GridDims g = grid_dims(out, in[0]);
  Input<C> grid(in[0]), cot(in[1]);
  Output<T, C> res(out);
  const C *gp = grid.get(), *cp = cot.get();
  C* op = res.get();
  const int64_t plane = g.h * g.w, oplane = g.ho * g.wo;
  cpu::parallel_for(g.n * g.c, 1, [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    C kw[4];
    for (int64_t nc = r0; nc < r1; ++nc) {
      const int64_t n = nc / g.c;
      C* dst = op + nc * plane;
      const C* ct = cp + nc * oplane;
      for (int64_t pos = 0; pos < oplane; ++pos) {
        C sx, sy;
        if (!grid_corners(gp, n * oplane + pos, g, padding, align, c, sx, sy)) continue;
        order_weights(c, order, (order.a ? sx : C(1)) * (order.b ? sy : C(1)), kw);
        for (int k = 0; k < 4; ++k) {
          if (c.idx[k] >= 0) dst[c.idx[k]] += kw[k] * ct[pos];
        }
      }
    }
  });
  res.finish();
}

// Fused first-order backward: grad_input (the order-(0,0) scatter) and
// grad_grid (a channel reduction per grid point).
template <typename T>
void grid_backward(const std::vector<array>& in, std::vector<array>& out, GridPadding padding,
                   bool align) {
  using C = compute_t<T>;
  grid_scatter_kernel<T>({in[1], in[2]}, out[0], padding, align, SampleOrder{});
  const GridDims g = grid_dims(in[0], in[1]);
  Input<C> input(in[0]), grid(in[1]), cot(in[2]);
  Output<T, C> ggrid(out[1]);
  const C *ip = input.get(), *gp = grid.get(), *cp = cot.get();
  C* ggp = ggrid.get();
  const int64_t plane = g.h * g.w, oplane = g.ho * g.wo;
  // grad_grid: each grid point reduces over channels.
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, g.c));
  cpu::parallel_for(g.n * oplane, grain, [&](int64_t r0, int64_t r1) {
    Corners<C> c;
    for (int64_t r = r0; r < r1; ++r) {
      C sx, sy;
      if (!grid_corners(gp, r, g, padding, align, c, sx, sy)) continue;
      const int64_t n = r / oplane, pos = r % oplane;
      C dots[4] = {0, 0, 0, 0};
      for (int64_t ch = 0; ch < g.c; ++ch) {
        const C* src = ip + (n * g.c + ch) * plane;
        const C ct = cp[(n * g.c + ch) * oplane + pos];
        for (int k = 0; k < 4; ++k) {
          if (c.idx[k] >= 0) dots[k] += ct * src[c.idx[k]];
        }
      }
      C gx = 0, gy = 0;
      for (int k = 0; k < 4; ++k) {
        gx += c.dx[k] * dots[k];
        gy += c.dy[k] * dots[k];
      }
      ggp[2 * r] = gx * sx;
      ggp[2 * r + 1] = gy * sy;
    }
  });
  ggrid.finish();
}

}  // namespace

void MSDeformAttn::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "ms_deform_attn", [&](auto tag) {
    msda_sample<typename decltype(tag)::type>(in, out[0], shapes_, order_);
  });
}

void MSDeformAttnDot::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "ms_deform_attn", [&](auto tag) {
    msda_dot<typename decltype(tag)::type>(in, out[0], shapes_, order_);
  });
}

void MSDeformAttnScatter::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "ms_deform_attn", [&](auto tag) {
    msda_scatter<typename decltype(tag)::type>(in, out[0], shapes_, order_);
  });
}

void MSDeformAttnBackward::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "ms_deform_attn", [&](auto tag) {
    msda_backward<typename decltype(tag)::type>(in, out, shapes_);
  });
}

void GridSample::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "grid_sample", [&](auto tag) {
    grid_sample_kernel<typename decltype(tag)::type>(in, out[0], padding_, align_corners_, order_);
  });
}

void GridSampleScatter::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "grid_sample", [&](auto tag) {
    grid_scatter_kernel<typename decltype(tag)::type>(in, out[0], padding_, align_corners_, order_);
  });
}

void GridSampleBackward::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "grid_sample", [&](auto tag) {
    grid_backward<typename decltype(tag)::type>(in, out, padding_, align_corners_);
  });
}

}  // namespace mfx
