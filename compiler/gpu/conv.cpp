// conv2d through im2col + matmul on the GPU path (see conv.h).
#include "compiler/gpu/conv.h"

#include <cstring>

#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/one_op.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "mfx/ops.h"
#include "primitives/conv.h"
#include "primitives/linalg.h"
#include "primitives/shape.h"

namespace mfx::gpu_detail {

namespace {

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
  array padded = x;
  const int64_t Hp = H + 2 * ph, Wp = W + 2 * pw;
  if (ph > 0 || pw > 0) {
    auto pad_prim = std::make_shared<Pad>(Shape{0, 0, ph, pw}, Shape{0, 0, ph, pw});
    std::vector<array> pad_out = {array(Shape{N, C, Hp, Wp}, dt, nullptr, {})};
    array zero = array::empty({}, dt, device);  // all-zero bytes are 0 in every dtype
    if (device.type == Device::Type::gpu) {
      cuda::fill_zero_async(zero.raw_data(), zero.nbytes(), device.index);  // graphs record it
    } else {
      std::memset(zero.raw_data(), 0, zero.nbytes());
    }
    eval_one_op(*pad_prim, {x, zero}, pad_out, target, device);
    padded = pad_out[0];
  }
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

}  // namespace

void register_conv_kernels(GpuKernelRegistry& r) {
  r.add<Conv2d>(conv2d_im2col, "im2col kernels + cuBLAS");
}

}  // namespace mfx::gpu_detail
