// Differentiation rules of Conv2d (bilinear in input and weight). The input
// gradient is the transposed convolution of the cotangent with the same
// weights; the weight gradient correlates the input with the cotangent, with
// batch and channels swapped and stride and dilation exchanged.
#include "mfx/mfx.h"
#include "primitives/conv.h"

namespace mfx {

namespace {

// Trailing input rows the convolution never reads (in [0, stride)): the
// output_padding that makes the transposed convolution give the input size.
int64_t unread(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
  return in + 2 * p - d * (k - 1) - 1 - s * (out - 1);
}

}  // namespace

std::vector<array> Conv2d::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &w = primals[1];
  const array ct = astype(cts[0], x.dtype());
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const int64_t o = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  const int64_t ho = ct.shape()[2], wo = ct.shape()[3];
  const int64_t g = groups_, cg = c / g;
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) {
      Pair out_pad{unread(h, ho, kh, stride_.first, padding_.first, dilation_.first),
                   unread(wd, wo, kw, stride_.second, padding_.second, dilation_.second)};
      res.push_back(astype(conv_transpose2d(ct, w, stride_, padding_, out_pad, dilation_, groups_),
                           x.dtype()));
    } else {
      // dW[o, j, a, b] = sum_{n,y,z} ct[n, o, y, z] x_pad[n, gi*cg + j, y s + a d, z s + b d]
      // (gi the group of o): a grouped conv2d of x as [C/g, g*N, H, W]
      // (group gi holds its N batch rows) with ct as the kernel [O, N, Ho, Wo].
      array xs =
          reshape(transpose(reshape(x, {n, g, cg, h, wd}), {2, 1, 0, 3, 4}), {cg, g * n, h, wd});
      array ks = transpose(ct, {1, 0, 2, 3});
      // stride and dilation swap roles; the result is [C/g, O, >= kH, >= kW]
      // when the last stride leaves unread rows.
      array dw = conv2d(xs, ks, dilation_, padding_, stride_, groups_);
      dw = slice(dw, {0, 0, 0, 0}, {cg, o, kh, kw});
      res.push_back(astype(transpose(dw, {1, 0, 2, 3}), w.dtype()));
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

}  // namespace mfx
