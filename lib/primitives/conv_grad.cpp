// Differentiation rules of Conv2d and of its weight gradient (both bilinear).
// The input gradient is the transposed convolution of the cotangent with the
// same weights; the weight gradient is its own primitive, Conv2dWeightGrad,
// whose derivatives are again a convolution and a transposed convolution.
#include "mfx/mfx.h"
#include "primitives/conv.h"

namespace mfx {

namespace {

// Trailing input rows the convolution never reads (in [0, stride)): the
// output_padding that makes the transposed convolution give the input size.
int64_t unread(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
  return in + 2 * p - d * (k - 1) - 1 - s * (out - 1);
}

// The input gradient of conv2d(x, w) for the output cotangent ct.
array conv2d_input_grad(const array& x, const array& w, const array& ct, Pair stride, Pair padding,
                        Pair dilation, int groups) {
  const Pair out_pad{unread(x.shape()[2], ct.shape()[2], w.shape()[2], stride.first,
                            padding.first, dilation.first),
                     unread(x.shape()[3], ct.shape()[3], w.shape()[3], stride.second,
                            padding.second, dilation.second)};
  return conv_transpose2d(ct, w, stride, padding, out_pad, dilation, groups);
}

}  // namespace

std::vector<array> Conv2d::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &w = primals[1];
  const array ct = astype(cts[0], x.dtype());
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) {
      res.push_back(
          astype(conv2d_input_grad(x, w, ct, stride_, padding_, dilation_, groups_), x.dtype()));
    } else {
      res.push_back(astype(conv2d_weight_grad(x, ct, {w.shape()[2], w.shape()[3]}, stride_,
                                              padding_, dilation_, groups_),
                           w.dtype()));
    }
  }
  return res;
}

std::vector<array> Conv2d::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  // Product rule: conv(dx, w) + conv(x, dw) over the requested inputs.
  array out;
  for (size_t k = 0; k < argnums.size(); ++k) {
    const array& x = argnums[k] == 0 ? tangents[k] : primals[0];
    const array& w = argnums[k] == 1 ? tangents[k] : primals[1];
    array t = conv2d(x, w, stride_, padding_, dilation_, groups_);
    out = out.valid() ? out + t : t;
  }
  if (!out.valid()) {
    return {zeros_like(conv2d(primals[0], primals[1], stride_, padding_, dilation_, groups_))};
  }
  return {out};
}

std::vector<array> Conv2dWeightGrad::vjp(const std::vector<array>& primals,
                                         const std::vector<array>& cts,
                                         const std::vector<int>& argnums,
                                         const std::vector<array>&) {
  // <G, dW(x, ct)> = <ct, conv2d(x, G)> = <x, input gradient of conv2d(., G) at ct>.
  const array &x = primals[0], &ct = primals[1];
  const array g = astype(cts[0], x.dtype());
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) {
      res.push_back(conv2d_input_grad(x, g, ct, stride_, padding_, dilation_, groups_));
    } else {
      res.push_back(astype(conv2d(x, g, stride_, padding_, dilation_, groups_), ct.dtype()));
    }
  }
  return res;
}

std::vector<array> Conv2dWeightGrad::jvp(const std::vector<array>& primals,
                                         const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  array out;
  for (size_t k = 0; k < argnums.size(); ++k) {
    const array& x = argnums[k] == 0 ? tangents[k] : primals[0];
    const array& ct = argnums[k] == 1 ? tangents[k] : primals[1];
    array t = conv2d_weight_grad(x, ct, kernel_, stride_, padding_, dilation_, groups_);
    out = out.valid() ? out + t : t;
  }
  if (!out.valid()) {
    return {zeros_like(
        conv2d_weight_grad(primals[0], primals[1], kernel_, stride_, padding_, dilation_, groups_))};
  }
  return {out};
}

}  // namespace mfx
