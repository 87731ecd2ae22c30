// conv2d through im2col + matmul on the GPU path (see conv.h).
#include "compiler/gpu/conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/one_op.h"
#include "compiler/kernel_builder.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "mfx/ops.h"
#include "primitives/conv.h"
#include "primitives/linalg.h"
#include "primitives/shape.h"

namespace mfx::gpu_detail {

namespace {

// All-zero bytes, which are 0 in every dtype (a memset CUDA graphs record).
void fill_zero(array& a, Device device) {
  if (device.type == Device::Type::gpu) {
    cuda::fill_zero_async(a.raw_data(), a.nbytes(), device.index);
  } else {
    std::memset(a.raw_data(), 0, a.nbytes());
  }
}

// x [N, C, H, W] with ph rows and pw columns of zeros on each side (x itself
// when both are 0), by the Pad primitive's one-op kernel.
array zero_pad(const array& x, int64_t ph, int64_t pw, compiler::Target target, Device device) {
  if (ph == 0 && pw == 0) return x;
  const Shape& s = x.shape();
  auto pad_prim = std::make_shared<Pad>(Shape{0, 0, ph, pw}, Shape{0, 0, ph, pw});
  std::vector<array> pad_out = {
      array(Shape{s[0], s[1], s[2] + 2 * ph, s[3] + 2 * pw}, x.dtype(), nullptr, {})};
  array zero = array::empty({}, x.dtype(), device);
  fill_zero(zero, device);
  eval_one_op(*pad_prim, {x, zero}, pad_out, target, device);
  return pad_out[0];
}

bool conv2d_im2col(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   compiler::Target target, Device device) {
  auto* conv = static_cast<Conv2d*>(&p);
  const array x = dense_copy(inputs[0], target);
  const array w = dense_copy(inputs[1], target);
  const Dtype dt = x.dtype();
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const int64_t O = w.shape()[0], Cg = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const int64_t G = conv->groups(), Og = O / G;
  const auto [sh, sw] = conv->stride();
  const auto [ph, pw] = conv->padding();
  const auto [dh, dw] = conv->dilation();
  array& out = outputs[0];
  const int64_t Ho = out.shape()[2], Wo = out.shape()[3];
  if (out.size() == 0) {
    out.allocate(device);
    return true;
  }
  // 1. Zero padding (the Pad primitive's one-op kernel).
  const int64_t Hp = H + 2 * ph, Wp = W + 2 * pw;
  const array padded = zero_pad(x, ph, pw, target, device);
  // 2. im2col: cols[n, g, (c, a, b), (y, z)] = padded[n, g*Cg + c, y*sh + a*dh, z*sw + b*dw].
  const int64_t K = Cg * KH * KW, P = Ho * Wo;
  array cols = array::empty({N, G, K, P}, dt, device);
  compiler::Kernel im2col =
      strided_copy_kernel(dt, {N, G, Cg, KH, KW, Ho, Wo},
                          {C * Hp * Wp, Cg * Hp * Wp, Hp * Wp, dh * Wp, dw, sh * Wp, sw});
  launch(im2col, {padded.raw_data(), cols.raw_data()}, target, device);
  // 3. out[n, g] = w[g] [Og, K] x cols[n, g] [K, P]: one batched product,
  // the weights broadcast over the batch (stride 0).
  array wb(Shape{N, G, Og, K}, dt, nullptr, {});
  wb.set_view(w, {0, Og * K, K, 1}, 0, w.size(), {false, false});
  array prod(Shape{N, G, Og, P}, dt, nullptr, {});
  std::vector<array> prod_out = {prod};
  auto mm = std::make_shared<Matmul>();
  evaluate(*mm, {wb, cols}, prod_out, target, device);
  // 4. [N, G, Og, Ho*Wo] is [N, O, Ho, Wo] row-major.
  const array& r = prod_out[0];
  out.set_view(r, row_major_strides(out.shape()), 0, r.size(), {true, true});
  return true;
}

// A copy of `shape` elements between two strided layouts (element offsets
// from each argument's start): argument 0 the source, 1 the destination,
// whose other elements the kernel leaves as they are.
compiler::Kernel strided_to_strided_kernel(Dtype dtype, const Shape& shape,
                                           const Strides& from, int64_t from_offset,
                                           int64_t from_size, const Strides& to,
                                           int64_t to_offset, int64_t to_size) {
  compiler::Kernel k;
  k.name = fmt::format("place_{}", dtype_name(dtype));
  k.args = {{dtype, from_size, false}, {dtype, to_size, true}};
  k.grid = shape;
  k.phases.emplace_back();
  compiler::PhaseBuilder b(k.phases.back());
  std::vector<int> idx;
  for (size_t i = 0; i < shape.size(); ++i) idx.push_back(b.grid_index(static_cast<int>(i)));
  b.store(1, b.linear_index(idx, to, to_offset),
          b.load(0, dtype, b.linear_index(idx, from, from_offset)));
  return k;
}

// dx = conv2d of the cotangent, zero-inserted (stride) and padded to a full
// correlation, with the flipped, channel-swapped weights: stride-1 conv2d
// through the route above.
bool conv2d_input_grad_im2col(Primitive& p, const std::vector<array>& inputs,
                              std::vector<array>& outputs, compiler::Target target,
                              Device device) {
  auto* prim = static_cast<Conv2dInputGrad*>(&p);
  const array ct = dense_copy(inputs[0], target);
  const array w = dense_copy(inputs[1], target);
  const Dtype dt = ct.dtype();
  array& out = outputs[0];
  const int64_t N = ct.shape()[0], O = ct.shape()[1], Ho = ct.shape()[2], Wo = ct.shape()[3];
  const int64_t Cg = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const int64_t H = out.shape()[2], W = out.shape()[3];
  const int64_t G = prim->groups(), Og = O / G;
  const auto [sh, sw] = prim->stride();
  const auto [ph, pw] = prim->padding();
  const auto [dh, dw] = prim->dilation();
  if (out.size() == 0) {
    out.allocate(device);
    return true;
  }
  if (ct.size() == 0) {
    out.allocate(device);
    fill_zero(out, device);
    return true;
  }
  // Cotangent row y lands on row y*sh + top of the padded input, which is
  // Hp = H + dh (KH - 1) rows high; rows landing outside it never reach dx.
  const int64_t top = dh * (KH - 1) - ph, left = dw * (KW - 1) - pw;
  const int64_t Hp = H + dh * (KH - 1), Wp = W + dw * (KW - 1);
  auto range = [](int64_t n, int64_t s, int64_t first, int64_t size) {
    int64_t lo = first >= 0 ? 0 : (-first + s - 1) / s;
    const int64_t last = size - 1 - first;  // largest y * s that lands inside
    int64_t hi = last < 0 ? 0 : std::min(n, last / s + 1);
    return std::pair<int64_t, int64_t>{lo, std::max(lo, hi)};
  };
  const auto [y0, y1] = range(Ho, sh, top, Hp);
  const auto [x0, x1] = range(Wo, sw, left, Wp);
  array padded = array::empty({N, O, Hp, Wp}, dt, device);
  fill_zero(padded, device);
  if (y1 > y0 && x1 > x0) {
    launch(strided_to_strided_kernel(dt, {N, O, y1 - y0, x1 - x0}, {O * Ho * Wo, Ho * Wo, Wo, 1},
                                     y0 * Wo + x0, ct.size(),
                                     {O * Hp * Wp, Hp * Wp, sh * Wp, sw},
                                     (y0 * sh + top) * Wp + x0 * sw + left, padded.size()),
           {ct.raw_data(), padded.raw_data()}, target, device);
  }
  // wt[g Cg + c, o, a, b] = w[g Og + o, c, KH-1-a, KW-1-b]; the source is
  // addressed from its lowest element, w's first.
  array wt = array::empty({G * Cg, Og, KH, KW}, dt, device);
  launch(strided_copy_kernel(dt, {G, Cg, Og, KH, KW},
                             {Og * Cg * KH * KW, KH * KW, Cg * KH * KW, -KW, -1}),
         {w.raw_data(), wt.raw_data()}, target, device);
  auto conv = std::make_shared<Conv2d>(Conv2d::Pair{1, 1}, Conv2d::Pair{0, 0},
                                       Conv2d::Pair{dh, dw}, static_cast<int>(G));
  return conv2d_im2col(*conv, {padded, wt}, outputs, target, device);
}

// dW [G, Og, K] = ct as [G, Og, N*P] x the patches as [G, N*P, K]: one
// batched product over the groups, the sum over images inside it.
bool conv2d_weight_grad_im2col(Primitive& p, const std::vector<array>& inputs,
                               std::vector<array>& outputs, compiler::Target target,
                               Device device) {
  auto* conv = static_cast<Conv2dWeightGrad*>(&p);
  const array x = dense_copy(inputs[0], target);
  const array ct = dense_copy(inputs[1], target);
  const Dtype dt = x.dtype();
  array& out = outputs[0];
  const int64_t N = x.shape()[0], C = x.shape()[1];
  const int64_t O = out.shape()[0], Cg = out.shape()[1], KH = out.shape()[2], KW = out.shape()[3];
  const int64_t Ho = ct.shape()[2], Wo = ct.shape()[3];
  const int64_t G = conv->groups(), Og = O / G, K = Cg * KH * KW, P = Ho * Wo;
  const auto [sh, sw] = conv->stride();
  const auto [ph, pw] = conv->padding();
  const auto [dh, dw] = conv->dilation();
  if (out.size() == 0) {
    out.allocate(device);
    return true;
  }
  if (N * P == 0) {
    out.allocate(device);
    fill_zero(out, device);
    return true;
  }
  const array padded = zero_pad(x, ph, pw, target, device);
  const int64_t Hp = padded.shape()[2], Wp = padded.shape()[3];
  // patches[g, n, y, z, (c, a, b)] = padded[n, g*Cg + c, y*sh + a*dh, z*sw + b*dw]
  array patches = array::empty({G, N * P, K}, dt, device);
  launch(strided_copy_kernel(dt, {G, N, Ho, Wo, Cg, KH, KW},
                             {Cg * Hp * Wp, C * Hp * Wp, sh * Wp, sw, Hp * Wp, dh * Wp, dw}),
         {padded.raw_data(), patches.raw_data()}, target, device);
  // cts[g, o, n, q] = ct[n, g*Og + o, q]
  array cts = array::empty({G, Og, N * P}, dt, device);
  launch(strided_copy_kernel(dt, {G, Og, N, P}, {Og * P, P, O * P, 1}),
         {ct.raw_data(), cts.raw_data()}, target, device);
  array prod(Shape{G, Og, K}, dt, nullptr, {});
  std::vector<array> prod_out = {prod};
  auto mm = std::make_shared<Matmul>();
  evaluate(*mm, {cts, patches}, prod_out, target, device);
  // [G, Og, K] is [O, Cg, KH, KW] row-major.
  const array& r = prod_out[0];
  out.set_view(r, row_major_strides(out.shape()), 0, r.size(), {true, true});
  return true;
}

}  // namespace

void register_conv_kernels(GpuKernelRegistry& r) {
  r.add<Conv2d>(conv2d_im2col, "im2col kernels + cuBLAS");
  r.add<Conv2dInputGrad>(conv2d_input_grad_im2col, "im2col kernels + cuBLAS");
  r.add<Conv2dWeightGrad>(conv2d_weight_grad_im2col, "im2col kernels + cuBLAS");
}

}  // namespace mfx::gpu_detail
