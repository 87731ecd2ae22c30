// CPU kernels of Conv2d, Conv2dInputGrad and Conv2dWeightGrad: im2col + gemm
// per batch element and group. The forward builds and multiplies columns in
// tasks of a few output rows, each on one thread, so the columns stay in
// that core's cache and bounded for large images; 1x1 convolutions with unit
// stride and no padding use the input plane as the column matrix directly,
// and float32 on AVX-512 reads the columns in place from the padded image's
// stride phases (conv_rows_implicit).
// The weight gradient multiplies the cotangent by the same columns,
// transposed, summing over images and row blocks; the input gradient
// multiplies the transposed weights by the cotangent into columns and adds
// them back into the image (col2im).
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "cpu/buffer_cache.h"
#include "cpu/copy.h"
#include "cpu/dispatch.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "cpu/simd_clones.h"
#include "cpu/small_gemm.h"
#include "primitives/conv.h"

namespace mfx {

namespace {

using cpu::compute_t;

// Elements of the column buffer per block (a few MB).
constexpr int64_t kColumnBudget = 1 << 20;
// Bytes of columns one forward task builds and multiplies: about half a
// core's L2, so the gemm reads them from cache (256 KiB to 4 MiB measured
// within 10 % of each other on the detector's layers; 512 KiB was best).
constexpr int64_t kTaskColumnBytes = int64_t{1} << 19;
// Weight gradients up to this many elements accumulate through small_sgemm
// (256 KiB of float32: the product's C stays in L2 across images).
constexpr int64_t kSmallWeightGradElements = int64_t{1} << 16;

struct ConvGeometry {
  int64_t n, c, h, w;     // input
  int64_t o, cg, kh, kw;  // weight
  int64_t ho, wo;         // output
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t groups;
};

// Output columns [lo, hi) whose input column ow * sw + off lies in [0, w):
// outside them a column row is padding. Computed once per row, so the copy
// in between needs no bounds test (a memcpy at unit stride).
std::pair<int64_t, int64_t> inside_columns(int64_t off, int64_t sw, int64_t w, int64_t wo) {
  const int64_t lo = std::min(wo, off >= 0 ? int64_t{0} : (-off + sw - 1) / sw);
  const int64_t last = w - 1 - off;  // largest ow * sw
  const int64_t hi = last < 0 ? lo : std::clamp(last / sw + 1, lo, wo);
  return {lo, hi};
}

// d[i] = src[i * step] for i in [0, n), step > 1: strided columns of a
// strided convolution, in vector lanes (permutes for step 2, gathers else).
MFX_SIMD_CLONES void copy_strided_f32(const float* src, int64_t step, int64_t n, float* d) {
  if (step == 2) {
    for (int64_t i = 0; i < n; ++i) d[i] = src[2 * i];
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = src[i * step];
  }
}

// d[i] = src[i * step] for i in [lo, hi), 0 elsewhere in [0, n).
template <typename C>
void copy_padded_run(const C* src, int64_t step, int64_t lo, int64_t hi, int64_t n, C* d) {
  std::fill(d, d + lo, C(0));
  if (step == 1) {
    std::copy(src + lo, src + hi, d + lo);
  } else if constexpr (std::is_same_v<C, float>) {
    copy_strided_f32(src + lo * step, step, hi - lo, d + lo);
  } else {
    for (int64_t i = lo; i < hi; ++i) d[i] = src[i * step];
  }
  std::fill(d + hi, d + n, C(0));
}

// A scratch buffer of at least n elements, one per thread and kind, reused
// from call to call and never zeroed: a fresh multi-megabyte buffer per call
// costs its zero fill and the page faults of new memory (its user writes
// every element it reads).
enum ScratchKind { kTaskColumns, kTaskOutput, kReorderedWeights, kGradColumns, kCotangentT };
template <typename C, ScratchKind Kind>
C* scratch(size_t n) {
  thread_local std::vector<C> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// Column rows (ci, ki, kj) x output positions of rows [oh0, oh1).
template <typename C>
void im2col(const C* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, C* col) {
  const int64_t rows = g.cg * g.kh * g.kw, width = (oh1 - oh0) * g.wo;
  cpu::parallel_for(
      rows, std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, width)),
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t ci = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
          const int64_t off = kj * g.dw - g.pw;
          const auto [lo, hi] = inside_columns(off, g.sw, g.w, g.wo);
          const C* plane = x + ci * g.h * g.w;
          C* dst = col + r * width;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
            C* d = dst + (oh - oh0) * g.wo;
            if (ih < 0 || ih >= g.h) {
              std::fill(d, d + g.wo, C(0));
              continue;
            }
            // src[ow * sw] is input column iw
            copy_padded_run(plane + ih * g.w + off, g.sw, lo, hi, g.wo, d);
          }
        }
      });
}

// The same columns transposed, [output positions of rows [oh0, oh1)] x
// (ci, ki, kj), for kernels wider than the output: each piece copied is then
// a run of input pixels along kj instead of a handful of output columns.
template <typename C>
void im2col_transposed(const C* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, C* colt) {
  const int64_t positions = (oh1 - oh0) * g.wo, kdim = g.cg * g.kh * g.kw;
  cpu::parallel_for(
      positions * g.cg, std::max<int64_t>(1, cpu::kElementwiseGrain / (g.kh * g.kw)),
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t p = q / g.cg, ci = q % g.cg;
          const int64_t oh = oh0 + p / g.wo, ow = p % g.wo;
          const int64_t off = ow * g.sw - g.pw;
          const auto [lo, hi] = inside_columns(off, g.dw, g.w, g.kw);
          const C* plane = x + ci * g.h * g.w;
          C* dst = colt + p * kdim + ci * g.kh * g.kw;
          for (int64_t ki = 0; ki < g.kh; ++ki) {
            const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
            C* d = dst + ki * g.kw;
            if (ih < 0 || ih >= g.h) {
              std::fill(d, d + g.kw, C(0));
              continue;
            }
            // src[kj * dw] is input column iw
            copy_padded_run(plane + ih * g.w + off, g.dw, lo, hi, g.kw, d);
          }
        }
      });
}

// The adjoint of im2col: adds column rows (ci, ki, kj) x output positions of
// rows [oh0, oh1) back into the image planes they were copied from. Threads
// take whole channels, so no two write the same pixel.
template <typename C>
void col2im_add(const C* col, const ConvGeometry& g, int64_t oh0, int64_t oh1, C* x) {
  const int64_t width = (oh1 - oh0) * g.wo, taps = g.kh * g.kw;
  cpu::parallel_for(
      g.cg, std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, taps * width)),
      [&](int64_t c0, int64_t c1) {
        for (int64_t ci = c0; ci < c1; ++ci) {
          C* plane = x + ci * g.h * g.w;
          for (int64_t ki = 0; ki < g.kh; ++ki) {
            for (int64_t kj = 0; kj < g.kw; ++kj) {
              const int64_t off = kj * g.dw - g.pw;
              const auto [lo, hi] = inside_columns(off, g.sw, g.w, g.wo);
              const C* src = col + ((ci * g.kh + ki) * g.kw + kj) * width;
              for (int64_t oh = oh0; oh < oh1; ++oh) {
                const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
                if (ih < 0 || ih >= g.h) continue;
                C* d = plane + ih * g.w + off;
                const C* s = src + (oh - oh0) * g.wo;
                if (g.sw == 1) {
                  for (int64_t ow = lo; ow < hi; ++ow) d[ow] += s[ow];
                } else {
                  for (int64_t ow = lo; ow < hi; ++ow) d[ow * g.sw] += s[ow];
                }
              }
            }
          }
        }
      });
}

// A row-major buffer of `a` in the compute type (a itself when possible).
template <typename T, typename C>
const C* compute_buffer(const array& a, array& keep, std::vector<C>& scratch) {
  if constexpr (std::is_same_v<T, C>) {
    keep = cpu::row_contiguous(a);
    return keep.data_ptr<C>();
  } else {
    scratch.resize(a.size());
    cpu::copy_to_row_major(a, scratch.data(), dtype_of<C>);
    return scratch.data();
  }
}

// float32 convolutions without im2col. Split the zero-padded image into
// its stride phases, phase (p, q) holding padded pixels (sh i + p, sw j + q)
// (at unit stride the padded image itself). Column row (ci, ki, kj) of the
// product is then phase ((ki dh) % sh, (kj dw) % sw) of channel ci shifted
// by ((ki dh) / sh, (kj dw) / sw), so small_sgemm_rows reads it in place:
// the image is copied once, where im2col wrote kh kw / (sh sw) copies.
// Product columns run over the phases' rows: column q is output
// (q / pitch, q % pitch), and the pitch - wo columns past each row's end
// are computed and dropped.
// Only where every phase is read: a 1 x 1 stride-2 convolution reads one
// of its four, and copying all of them took twice im2col's time.
bool implicit_conv_applies(const ConvGeometry& g) {
  auto all_residues = [](int64_t taps, int64_t dilation, int64_t stride) {
    std::vector<char> seen(static_cast<size_t>(stride), 0);
    for (int64_t t = 0; t < taps; ++t) seen[static_cast<size_t>(t * dilation % stride)] = 1;
    return std::all_of(seen.begin(), seen.end(), [](char c) { return c != 0; });
  };
  return (g.o / g.groups) % 8 == 0 && all_residues(g.kh, g.dh, g.sh) &&
         all_residues(g.kw, g.dw, g.sw) && cpu::small_sgemm_available();
}

void conv_rows_implicit(const float* xp, const float* wp, float* o, const ConvGeometry& g) {
  const int64_t og = g.o / g.groups, kdim = g.cg * g.kh * g.kw, plane = g.ho * g.wo;
  const int64_t rows_p = g.ho + g.dh * (g.kh - 1) / g.sh, pitch = g.wo + g.dw * (g.kw - 1) / g.sw;
  const int64_t phases = g.sh * g.sw, plane_p = rows_p * pitch, cols = (g.ho - 1) * pitch + g.wo;
  auto bi = [](int64_t v) { return cpu::blas_int(v, "conv2d"); };
  // The phase planes, then 16 zeros: the last tile loads whole vectors up
  // to 15 floats past its columns (zeros, not stale denormals, which slow
  // the FMAs down). From the buffer cache, not a per-thread scratch: as
  // large as the input, it must not stay pinned after a large image.
  const int64_t planes = g.n * g.c * phases, padded_size = planes * plane_p + 16;
  const size_t padded_bytes = static_cast<size_t>(padded_size) * sizeof(float);
  std::unique_ptr<float, std::function<void(float*)>> padded_block(
      static_cast<float*>(cpu::acquire_buffer(padded_bytes)),
      [padded_bytes](float* p) { cpu::release_buffer(p, padded_bytes); });
  float* padded = padded_block.get();
  std::fill(padded + planes * plane_p, padded + padded_size, 0.0f);
  cpu::parallel_for(planes, std::max<int64_t>(1, cpu::kElementwiseGrain / plane_p),
                    [&](int64_t p0, int64_t p1) {
                      for (int64_t pl = p0; pl < p1; ++pl) {
                        const int64_t p = pl % phases / g.sw, q = pl % g.sw;
                        // phase column j is input column sw j + q - pw,
                        // inside the image for j in [lo, hi)
                        auto first = [&](int64_t col) {  // first j with sw j + q - pw >= col
                          return std::clamp<int64_t>(
                              (col + g.pw - q + g.sw - 1 + g.sw * pitch) / g.sw - pitch, 0, pitch);
                        };
                        const int64_t lo = first(0), hi = std::max(lo, first(g.w));
                        for (int64_t r = 0; r < rows_p; ++r) {
                          float* d = padded + pl * plane_p + r * pitch;
                          const int64_t ir = g.sh * r + p - g.ph;
                          if (ir < 0 || ir >= g.h) {
                            std::fill(d, d + pitch, 0.0f);
                            continue;
                          }
                          const float* src = xp + ((pl / phases) * g.h + ir) * g.w;
                          std::fill(d, d + lo, 0.0f);
                          if (g.sw == 1) {
                            std::copy(src + lo + q - g.pw, src + hi + q - g.pw, d + lo);
                          } else if (hi > lo) {
                            copy_strided_f32(src + g.sw * lo + q - g.pw, g.sw, hi - lo, d + lo);
                          }
                          std::fill(d + hi, d + pitch, 0.0f);
                        }
                      }
                    });
  // Tasks of whole 48-column tiles, at least one per thread, at most 1536
  // columns (a k pass of the product then reads ~200 KiB of planes).
  const int64_t per_image = (cpu::num_threads() + g.n * g.groups - 1) / (g.n * g.groups);
  const int64_t want = std::max<int64_t>(per_image, (cols + 1535) / 1536);
  const int64_t block = ((cols + want - 1) / want + 47) / 48 * 48;
  const int64_t blocks = (cols + block - 1) / block, tasks = g.n * g.groups * blocks;
  cpu::parallel_for_each(tasks, [&](int64_t t0, int64_t t1) {
    float* cbuf = scratch<float, kTaskOutput>(static_cast<size_t>(og * block));
    std::vector<const float*> rows(static_cast<size_t>(kdim));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (g.groups * blocks), gi = t / blocks % g.groups, b = t % blocks;
      const int64_t q0 = b * block, q1 = std::min(cols, q0 + block), width = q1 - q0;
      const float* xg = padded + (n * g.c + gi * g.cg) * phases * plane_p + q0;
      for (int64_t r = 0; r < kdim; ++r) {
        const int64_t ci = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
        const int64_t y = ki * g.dh, x = kj * g.dw;
        const int64_t phase = y % g.sh * g.sw + x % g.sw;
        rows[r] = xg + (ci * phases + phase) * plane_p + y / g.sh * pitch + x / g.sw;
      }
      cpu::small_sgemm_rows(bi(og), bi(width), bi(kdim), wp + gi * og * kdim, bi(kdim),
                            rows.data(), cbuf, bi(width));
      // Rows oh of the output that columns [q0, q1) cover, without the
      // columns past wo.
      float* dst = o + (n * g.o + gi * og) * plane;
      for (int64_t oh = q0 / pitch; oh * pitch < q1; ++oh) {
        const int64_t a = std::max(q0, oh * pitch), e = std::min(q1, oh * pitch + g.wo);
        if (a >= e) continue;
        for (int64_t oc = 0; oc < og; ++oc) {
          const float* src = cbuf + oc * width + (a - q0);
          std::copy(src, src + (e - a), dst + oc * plane + oh * g.wo + (a - oh * pitch));
        }
      }
    }
  });
}

// The convolution of row-major x and w (in the compute type) into o.
// Columns are built and multiplied in tasks of whole output rows of one
// image and group, each on one thread with a single-threaded product: the
// columns stay in that core's cache between im2col and the gemm, and the
// threads meet once per convolution instead of twice per block.
template <typename T, typename C>
void conv_rows(const C* xp, const C* wp, T* o, const ConvGeometry& g) {
  constexpr bool same = std::is_same_v<T, C>;
  const int64_t og = g.o / g.groups, kdim = g.cg * g.kh * g.kw, plane = g.ho * g.wo;
  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  auto bi = [](int64_t v) { return cpu::blas_int(v, "conv2d"); };
  if (direct && same) {
    for (int64_t n = 0; n < g.n; ++n) {
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const C* xg = xp + (n * g.c + gi * g.cg) * g.h * g.w;
        C* dst = reinterpret_cast<C*>(o + (n * g.o + gi * og) * plane);
        cpu::gemm(false, false, bi(og), bi(plane), bi(kdim), wp + gi * og * kdim, bi(kdim), xg,
                  bi(plane), dst, bi(plane));
      }
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (!direct && implicit_conv_applies(g)) return conv_rows_implicit(xp, wp, o, g);
  }
  const bool transposed = g.kw > g.wo;  // see im2col_transposed
  // Rows per task: columns of about kTaskColumnBytes, at least one task per
  // thread, and blocks of equal height: a short last block (one row of
  // layer4's 8 x 8 output) re-reads all the weights for a few columns.
  const int64_t per_image = (cpu::num_threads() + g.n * g.groups - 1) / (g.n * g.groups);
  const double rows_in_budget = std::max(
      1.0, static_cast<double>(kTaskColumnBytes) / sizeof(C) / static_cast<double>(kdim * g.wo));
  const int64_t even_blocks = std::clamp<int64_t>(
      std::max<int64_t>(std::llround(g.ho / rows_in_budget), per_image), 1, g.ho);
  const int64_t block = (g.ho + even_blocks - 1) / even_blocks;
  const int64_t blocks = (g.ho + block - 1) / block, tasks = g.n * g.groups * blocks;
  // float32 products with whole blocks of 8 output channels go to
  // small_sgemm (cpu/small_gemm.h), faster than OpenBLAS at these shapes.
  bool small = false;
  if constexpr (std::is_same_v<C, float>) small = og % 8 == 0 && cpu::small_sgemm_available();
  // C[og, width] = W[og, kdim] B[kdim, width] for group gi.
  auto product = [&](int64_t gi, int64_t width, const C* b, int ldb, C* c, int ldc) {
    const C* wg = wp + gi * og * kdim;
    if constexpr (std::is_same_v<C, float>) {
      if (small && width >= 16) {
        cpu::small_sgemm(bi(og), bi(width), bi(kdim), wg, bi(kdim), b, ldb, c, ldc);
        return;
      }
    }
    cpu::gemm_serial(false, false, bi(og), bi(width), bi(kdim), wg, bi(kdim), b, ldb, c, ldc);
  };
  cpu::parallel_for_each(tasks, [&](int64_t t0, int64_t t1) {
    // Per thread and reused: im2col overwrites every column, so no zeroing.
    C* col = direct ? nullptr : scratch<C, kTaskColumns>(static_cast<size_t>(kdim * block * g.wo));
    C* obuf = same ? nullptr : scratch<C, kTaskOutput>(static_cast<size_t>(og * block * g.wo));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / (g.groups * blocks), gi = t / blocks % g.groups, b = t % blocks;
      const int64_t oh0 = b * block, oh1 = std::min(g.ho, oh0 + block), width = (oh1 - oh0) * g.wo;
      const C* xg = xp + (n * g.c + gi * g.cg) * g.h * g.w;
      const C* wg = wp + gi * og * kdim;
      T* dst = o + (n * g.o + gi * og) * plane + oh0 * g.wo;
      C* cp = same ? reinterpret_cast<C*>(dst) : obuf;
      const int ldc = same ? bi(plane) : bi(width);
      if (direct) {
        product(gi, width, xg + oh0 * g.wo, bi(plane), cp, ldc);
      } else if (transposed) {
        im2col_transposed(xg, g, oh0, oh1, col);
        cpu::gemm_serial(false, true, bi(og), bi(width), bi(kdim), wg, bi(kdim), col,
                         bi(kdim), cp, ldc);
      } else {
        im2col(xg, g, oh0, oh1, col);
        product(gi, width, col, bi(width), cp, ldc);
      }
      if constexpr (!same) {
        for (int64_t oc = 0; oc < og; ++oc)
          for (int64_t i = 0; i < width; ++i) dst[oc * plane + i] = T(obuf[oc * width + i]);
      }
    }
  });
}

template <typename T>
void conv_impl(const array& x, const array& w, array& out, const ConvGeometry& g) {
  using C = compute_t<T>;
  out.allocate();
  if (out.size() == 0) return;
  T* o = out.data_ptr<T>();
  if (g.cg * g.kh * g.kw == 0) {
    std::fill(o, o + out.size(), T(0));
    return;
  }
  array xkeep, wkeep;
  std::vector<C> xs, ws;
  const C* xp = compute_buffer<T, C>(x, xkeep, xs);
  const C* wp = compute_buffer<T, C>(w, wkeep, ws);
  conv_rows(xp, wp, o, g);
}

// At unit stride the input gradient is a convolution of the cotangent,
// padded to a full correlation (cropped where the forward's padding exceeds
// the dilated kernel), with the flipped, channel-swapped weights:
// its product is as wide as the forward's, where col2im's writes kH*kW
// times as many columns.
template <typename T, typename C>
void input_grad_as_conv(const C* cp, const C* wp, T* o, const ConvGeometry& g) {
  const int64_t og = g.o / g.groups;
  const int64_t top = g.dh * (g.kh - 1) - g.ph, left = g.dw * (g.kw - 1) - g.pw;
  ConvGeometry t = g;  // from [N, O, Hp, Wp] to [N, C, H, W]
  t.c = g.o, t.h = g.h + g.dh * (g.kh - 1), t.w = g.w + g.dw * (g.kw - 1);
  t.o = g.c, t.cg = og;
  t.ho = g.h, t.wo = g.w;
  t.ph = t.pw = 0;
  std::vector<C> padded;
  const C* xp = cp;
  if (top >= 0 && left >= 0) {
    // At unit stride the full correlation pads both sides alike
    // (Hp - Ho - top == top): the convolution's own padding, no copy.
    t.h = g.ho, t.w = g.wo;
    t.ph = top, t.pw = left;
  } else {
    // Cotangent columns [z0, z1) land inside the padded rows (at z + left).
    const int64_t z0 = std::clamp<int64_t>(-left, 0, g.wo);
    const int64_t z1 = std::clamp<int64_t>(t.w - left, z0, g.wo);
    padded.assign(static_cast<size_t>(g.n * g.o * t.h * t.w), C(0));
    cpu::parallel_for(g.n * g.o, std::max<int64_t>(1, cpu::kElementwiseGrain / (t.h * t.w)),
                      [&](int64_t p0, int64_t p1) {
                        for (int64_t pl = p0; pl < p1; ++pl) {
                          for (int64_t y = 0; y < g.ho; ++y) {
                            const int64_t r = y + top;
                            if (r < 0 || r >= t.h) continue;
                            const C* src = cp + (pl * g.ho + y) * g.wo;
                            std::copy(src + z0, src + z1,
                                      padded.data() + (pl * t.h + r) * t.w + z0 + left);
                          }
                        }
                      });
    xp = padded.data();
  }
  // wt[gi C/g + c, o, a, b] = w[gi O/g + o, c, kH-1-a, kW-1-b]: the taps of
  // each (output, input) pair reversed.
  const int64_t taps = g.kh * g.kw;
  // Every element is written below (2.4 MB at 256 channels).
  C* wt = scratch<C, kReorderedWeights>(static_cast<size_t>(g.o * g.cg * taps));
  cpu::parallel_for(g.groups * g.cg, std::max<int64_t>(1, cpu::kElementwiseGrain / (og * taps)),
                    [&](int64_t r0, int64_t r1) {
                      for (int64_t r = r0; r < r1; ++r) {
                        const int64_t gi = r / g.cg, c = r % g.cg;
                        for (int64_t oi = 0; oi < og; ++oi) {
                          const C* src = wp + ((gi * og + oi) * g.cg + c) * taps;
                          std::reverse_copy(src, src + taps, wt + (r * og + oi) * taps);
                        }
                      }
                    });
  conv_rows(xp, wt, o, t);
}

// dx[n, g] = col2im(w[g]^T [(c, a, b), O/g] x ct[n, g] [O/g, Ho*Wo]) for
// strided convolutions (a convolution of the zero-inserted cotangent would
// multiply stride^2 times as many terms, mostly zeros); at unit stride, the
// convolution of input_grad_as_conv.
template <typename T>
void conv_input_grad_impl(const array& ct, const array& w, array& out, const ConvGeometry& g) {
  using C = compute_t<T>;
  constexpr bool same = std::is_same_v<T, C>;
  out.allocate();
  if (out.size() == 0) return;
  T* o = out.data_ptr<T>();
  const int64_t og = g.o / g.groups, kdim = g.cg * g.kh * g.kw, plane = g.ho * g.wo;
  if (plane == 0 || og == 0) {
    std::fill(o, o + out.size(), T(0));
    return;
  }
  array ckeep, wkeep;
  std::vector<C> cs, ws;
  const C* cp = compute_buffer<T, C>(ct, ckeep, cs);
  const C* wp = compute_buffer<T, C>(w, wkeep, ws);
  if (g.sh == 1 && g.sw == 1) {
    input_grad_as_conv(cp, wp, o, g);
    return;
  }
  std::vector<C> acc(same ? 0 : out.size());
  C* dx = same ? reinterpret_cast<C*>(o) : acc.data();
  std::fill(dx, dx + out.size(), C(0));
  // w[g]^T [(c, a, b), O/g] per group, so the products read A untransposed.
  std::vector<C> wt(static_cast<size_t>(g.o * kdim));
  cpu::parallel_for(g.groups * kdim, std::max<int64_t>(1, cpu::kElementwiseGrain / og),
                    [&](int64_t r0, int64_t r1) {
                      for (int64_t q = r0; q < r1; ++q) {
                        const int64_t gi = q / kdim, r = q % kdim;
                        for (int64_t oi = 0; oi < og; ++oi) {
                          wt[q * og + oi] = wp[(gi * og + oi) * kdim + r];
                        }
                      }
                    });
  const int64_t block = std::clamp<int64_t>(kColumnBudget / (kdim * g.wo), 1, g.ho);
  std::vector<C> col(kdim * block * g.wo);
  auto bi = [](int64_t v) { return cpu::blas_int(v, "conv2d_input_grad"); };
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const C* ctg = cp + (n * g.o + gi * og) * plane;
      const C* wg = wt.data() + gi * kdim * og;
      C* dxg = dx + (n * g.c + gi * g.cg) * g.h * g.w;
      for (int64_t oh0 = 0; oh0 < g.ho; oh0 += block) {
        const int64_t oh1 = std::min(g.ho, oh0 + block), width = (oh1 - oh0) * g.wo;
        cpu::gemm(false, false, bi(kdim), bi(width), bi(og), wg, bi(og), ctg + oh0 * g.wo,
                  bi(plane), col.data(), bi(width));
        col2im_add(col.data(), g, oh0, oh1, dxg);
      }
    }
  }
  if constexpr (!same) {
    for (int64_t i = 0; i < out.size(); ++i) o[i] = T(acc[i]);
  }
}

// dW[g] [O/g, (c, a, b)] = sum over images n of ct[n, g] [O/g, Ho*Wo] x
// im2col(x[n, g])^T [Ho*Wo, (c, a, b)].
template <typename T>
void conv_weight_grad_impl(const array& x, const array& ct, array& out, const ConvGeometry& g) {
  using C = compute_t<T>;
  constexpr bool same = std::is_same_v<T, C>;
  out.allocate();
  if (out.size() == 0) return;
  const int64_t og = g.o / g.groups, kdim = g.cg * g.kh * g.kw, plane = g.ho * g.wo;
  std::vector<C> acc(same ? 0 : out.size());
  C* dw = same ? reinterpret_cast<C*>(out.data_ptr<T>()) : acc.data();
  std::fill(dw, dw + out.size(), C(0));
  if (plane > 0 && g.n > 0) {
    array xkeep, ckeep;
    std::vector<C> xs, cs;
    const C* xp = compute_buffer<T, C>(x, xkeep, xs);
    const C* cp = compute_buffer<T, C>(ct, ckeep, cs);
    const bool direct =
        g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    const int64_t block = std::clamp<int64_t>(kColumnBudget / (kdim * g.wo), 1, g.ho);
    C* col = direct ? nullptr : scratch<C, kGradColumns>(static_cast<size_t>(kdim * block * g.wo));
    auto bi = [](int64_t v) { return cpu::blas_int(v, "conv2d_weight_grad"); };
    // float32 with output channels in blocks of 16, enough rows for every
    // thread and dW within a core's L2: dW^T [kdim, og] += columns [kdim,
    // width] x ct^T [width, og] through cpu::small_sgemm, its rows split over
    // the pool; dW is dW^T transposed at the end. (A larger dW^T is read and
    // written back from L3 for every image: twice as slow as OpenBLAS at
    // 2304 x 256.)
    bool small = false;
    if constexpr (std::is_same_v<C, float>) {
      small = !direct && og % 16 == 0 && kdim >= 256 && kdim * og <= kSmallWeightGradElements &&
              cpu::small_sgemm_available();
    }
    std::vector<C> dwt(small ? g.groups * kdim * og : 0);
    C* ctt = small ? scratch<C, kCotangentT>(static_cast<size_t>(block * g.wo * og)) : nullptr;
    for (int64_t n = 0; n < g.n; ++n) {
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const C* xg = xp + (n * g.c + gi * g.cg) * g.h * g.w;
        const C* cg = cp + (n * g.o + gi * og) * plane;
        C* dwg = dw + gi * og * kdim;
        if (direct) {
          cpu::gemm(false, true, bi(og), bi(kdim), bi(plane), cg, bi(plane), xg, bi(plane), dwg,
                    bi(kdim), true);
          continue;
        }
        for (int64_t oh0 = 0; oh0 < g.ho; oh0 += block) {
          const int64_t oh1 = std::min(g.ho, oh0 + block), width = (oh1 - oh0) * g.wo;
          im2col(xg, g, oh0, oh1, col);
          if constexpr (std::is_same_v<C, float>) {
            if (small) {
              // ct^T in blocks of 16 positions (their rows of ctt stay in L1).
              const C* block_ct = cg + oh0 * g.wo;
              cpu::parallel_for((width + 15) / 16, 8, [&](int64_t b0, int64_t b1) {
                for (int64_t pb = b0 * 16; pb < std::min(width, b1 * 16); pb += 16) {
                  const int64_t pe = std::min(width, pb + 16);
                  for (int64_t o = 0; o < og; ++o) {
                    for (int64_t p = pb; p < pe; ++p) ctt[p * og + o] = block_ct[o * plane + p];
                  }
                }
              });
              C* dwtg = dwt.data() + gi * kdim * og;
              cpu::parallel_for(kdim, 64, [&](int64_t r0, int64_t r1) {
                cpu::small_sgemm(bi(r1 - r0), bi(og), bi(width), col + r0 * width,
                                 bi(width), ctt, bi(og), dwtg + r0 * og, bi(og), true);
              });
              continue;
            }
          }
          cpu::gemm(false, true, bi(og), bi(kdim), bi(width), cg + oh0 * g.wo, bi(plane),
                    col, bi(width), dwg, bi(kdim), true);
        }
      }
    }
    for (int64_t gi = 0; gi < (small ? g.groups : 0); ++gi) {
      const C* dwtg = dwt.data() + gi * kdim * og;
      C* dwg = dw + gi * og * kdim;
      for (int64_t j = 0; j < kdim; ++j) {
        for (int64_t o = 0; o < og; ++o) dwg[o * kdim + j] = dwtg[j * og + o];
      }
    }
  }
  if constexpr (!same) {
    T* o = out.data_ptr<T>();
    for (int64_t i = 0; i < out.size(); ++i) o[i] = T(acc[i]);
  }
}

// The geometry of one convolution from its image [N, C, H, W], weight
// [O, C/g, kH, kW] and output [., ., Ho, Wo] shapes: each primitive passes
// the shapes it has (the forward's input, a gradient's output, ...).
ConvGeometry geometry(const Shape& x, const Shape& w, const Shape& y, Conv2d::Pair stride,
                      Conv2d::Pair padding, Conv2d::Pair dilation, int groups) {
  ConvGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = w[0], g.cg = w[1], g.kh = w[2], g.kw = w[3];
  g.ho = y[2], g.wo = y[3];
  g.sh = stride.first, g.sw = stride.second;
  g.ph = padding.first, g.pw = padding.second;
  g.dh = dilation.first, g.dw = dilation.second;
  g.groups = groups;
  return g;
}

}  // namespace

void Conv2d::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array &x = in[0], &w = in[1];
  const ConvGeometry g =
      geometry(x.shape(), w.shape(), out[0].shape(), stride_, padding_, dilation_, groups_);
  cpu::dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_impl<T>(x, w, out[0], g);
  });
}

void Conv2dInputGrad::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array &ct = in[0], &w = in[1];
  const ConvGeometry g =
      geometry(out[0].shape(), w.shape(), ct.shape(), stride_, padding_, dilation_, groups_);
  cpu::dispatch_float(ct.dtype(), "conv2d_input_grad", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_input_grad_impl<T>(ct, w, out[0], g);
  });
}

bool Conv2dInputGrad::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Conv2dInputGrad*>(&other);
  return o && o->input_size_ == input_size_ && o->stride_ == stride_ &&
         o->padding_ == padding_ && o->dilation_ == dilation_ && o->groups_ == groups_;
}

void Conv2dWeightGrad::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array &x = in[0], &ct = in[1];
  const ConvGeometry g =
      geometry(x.shape(), out[0].shape(), ct.shape(), stride_, padding_, dilation_, groups_);
  cpu::dispatch_float(x.dtype(), "conv2d_weight_grad", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_weight_grad_impl<T>(x, ct, out[0], g);
  });
}

bool Conv2dWeightGrad::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Conv2dWeightGrad*>(&other);
  return o && o->kernel_ == kernel_ && o->stride_ == stride_ && o->padding_ == padding_ &&
         o->dilation_ == dilation_ && o->groups_ == groups_;
}

bool Conv2d::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Conv2d*>(&other);
  return o && o->stride_ == stride_ && o->padding_ == padding_ && o->dilation_ == dilation_ &&
         o->groups_ == groups_;
}

}  // namespace mfx
