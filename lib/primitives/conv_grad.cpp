// Differentiation rules of Conv2d and of its input and weight gradients
// (Conv2dInputGrad, Conv2dWeightGrad). All three are bilinear, and each one's
// derivatives are the other two:
//   <ct, conv2d(x, w)> = <conv2d_input_grad(ct, w), x> = <conv2d_weight_grad(x, ct), w>.
#include <functional>

#include "mfx/mfx.h"
#include "primitives/conv.h"

namespace mfx {

namespace {

// The jvp of a bilinear op f(a, b): f(da, b) + f(a, db) over the tangents
// given, zeros of f's shape when none is.
std::vector<array> bilinear_jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents,
                                const std::vector<int>& argnums,
                                const std::function<array(const array&, const array&)>& f) {
  array out;
  for (size_t k = 0; k < argnums.size(); ++k) {
    const array& a = argnums[k] == 0 ? tangents[k] : primals[0];
    const array& b = argnums[k] == 1 ? tangents[k] : primals[1];
    array t = f(a, b);
    out = out.valid() ? out + t : t;
  }
  if (!out.valid()) return {zeros_like(f(primals[0], primals[1]))};
  return {out};
}

}  // namespace

std::vector<array> Conv2d::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &w = primals[1];
  const array ct = astype(cts[0], x.dtype());
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) {
      res.push_back(astype(conv2d_input_grad(ct, w, {x.shape()[2], x.shape()[3]}, stride_,
                                             padding_, dilation_, groups_),
                           x.dtype()));
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
  return bilinear_jvp(primals, tangents, argnums, [&](const array& a, const array& b) {
    return conv2d(a, b, stride_, padding_, dilation_, groups_);
  });
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
      res.push_back(astype(conv2d_input_grad(ct, g, {x.shape()[2], x.shape()[3]}, stride_,
                                             padding_, dilation_, groups_),
                           x.dtype()));
    } else {
      res.push_back(astype(conv2d(x, g, stride_, padding_, dilation_, groups_), ct.dtype()));
    }
  }
  return res;
}

std::vector<array> Conv2dWeightGrad::jvp(const std::vector<array>& primals,
                                         const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  return bilinear_jvp(primals, tangents, argnums, [&](const array& a, const array& b) {
    return conv2d_weight_grad(a, b, kernel_, stride_, padding_, dilation_, groups_);
  });
}

std::vector<array> Conv2dInputGrad::vjp(const std::vector<array>& primals,
                                        const std::vector<array>& cts,
                                        const std::vector<int>& argnums,
                                        const std::vector<array>&) {
  // <G, dx(ct, w)> = <conv2d(G, w), ct> = <wgrad(G, ct), w>.
  const array &ct = primals[0], &w = primals[1];
  const array g = astype(cts[0], ct.dtype());
  std::vector<array> res;
  for (int k : argnums) {
    if (k == 0) {
      res.push_back(conv2d(g, w, stride_, padding_, dilation_, groups_));
    } else {
      res.push_back(conv2d_weight_grad(g, ct, {w.shape()[2], w.shape()[3]}, stride_, padding_,
                                       dilation_, groups_));
    }
  }
  return res;
}

std::vector<array> Conv2dInputGrad::jvp(const std::vector<array>& primals,
                                        const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  return bilinear_jvp(primals, tangents, argnums, [&](const array& a, const array& b) {
    return conv2d_input_grad(a, b, input_size_, stride_, padding_, dilation_, groups_);
  });
}

}  // namespace mfx
