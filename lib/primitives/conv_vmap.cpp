// Batching rules of Conv2d and its gradients: the batch folds into the image
// batch (batched images or cotangents), into the output channels (batched
// weights; group-major so each group keeps its channels), or into the groups
// (both batched).
#include "mfx/nn.h"
#include "mfx/ops.h"
#include "primitives/conv.h"
#include "transforms/batching.h"

namespace mfx {

std::pair<std::vector<array>, std::vector<int>> Conv2d::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  const Shape& out = outputs[0].shape();  // [N, O, Ho, Wo]
  const int64_t n = out[0], o = out[1], ho = out[2], wo = out[3];
  array x = batching::to_front(inputs[0], axes[0]);
  array w = batching::to_front(inputs[1], axes[1]);
  if (axes[1] < 0) {
    const Shape& s = x.shape();  // [B, N, C, H, W]
    array y = conv2d(reshape(x, {batch * s[1], s[2], s[3], s[4]}), w, stride_, padding_, dilation_,
                     groups_);
    return {{reshape(y, {batch, n, o, ho, wo})}, {0}};
  }
  const Shape& ws = w.shape();  // [B, O, C/g, kH, kW]
  const int64_t g = groups_;
  if (axes[0] < 0) {
    array wg =
        reshape(transpose(reshape(w, {batch, g, o / g, ws[2], ws[3], ws[4]}), {1, 0, 2, 3, 4, 5}),
                {g * batch * (o / g), ws[2], ws[3], ws[4]});
    array y = conv2d(x, wg, stride_, padding_, dilation_, groups_);  // [N, g*B*O/g, Ho, Wo]
    y = transpose(reshape(y, {n, g, batch, o / g, ho, wo}), {0, 2, 1, 3, 4, 5});
    return {{reshape(y, {n, batch, o, ho, wo})}, {1}};
  }
  const Shape& s = x.shape();  // [B, N, C, H, W]
  array xg = reshape(transpose(x, {1, 0, 2, 3, 4}), {s[1], batch * s[2], s[3], s[4]});
  array wg = reshape(w, {batch * o, ws[2], ws[3], ws[4]});
  array y = conv2d(xg, wg, stride_, padding_, dilation_, static_cast<int>(batch * g));
  return {{reshape(y, {n, batch, o, ho, wo})}, {1}};
}

std::pair<std::vector<array>, std::vector<int>> Conv2dWeightGrad::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  // Both batched (an unbatched one broadcast): batch element b becomes
  // groups b*g .. b*g+g-1 of x [N, B*C, H, W] and ct [N, B*O, Ho, Wo].
  const int64_t batch = batching::batch_size(inputs, axes);
  std::vector<array> in;
  for (size_t i = 0; i < 2; ++i) {
    array a = batching::to_front(inputs[i], axes[i]);
    if (axes[i] < 0) {
      Shape s = a.shape();
      s.insert(s.begin(), batch);
      a = broadcast_to(a, s);
    }
    const Shape& s = a.shape();  // [B, N, C, H, W]
    in.push_back(reshape(transpose(a, {1, 0, 2, 3, 4}), {s[1], batch * s[2], s[3], s[4]}));
  }
  array dw = conv2d_weight_grad(in[0], in[1], kernel_, stride_, padding_, dilation_,
                                static_cast<int>(batch * groups_));
  Shape s = outputs[0].shape();
  s.insert(s.begin(), batch);
  return {{reshape(dw, s)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Conv2dInputGrad::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs) {
  const int64_t batch = batching::batch_size(inputs, axes);
  const Shape& out = outputs[0].shape();  // [N, C, H, W]
  array ct = batching::to_front(inputs[0], axes[0]);
  if (axes[1] < 0) {
    const Shape& s = ct.shape();  // [B, N, O, Ho, Wo]
    array dx = conv2d_input_grad(reshape(ct, {batch * s[1], s[2], s[3], s[4]}), inputs[1],
                                 input_size_, stride_, padding_, dilation_, groups_);
    return {{reshape(dx, {batch, out[0], out[1], out[2], out[3]})}, {0}};
  }
  // Batched weights: batch element b becomes groups b*g .. b*g+g-1 of the
  // cotangent [N, B*O, Ho, Wo] and the weights [B*O, C/g, kH, kW].
  array w = batching::to_front(inputs[1], axes[1]);
  if (axes[0] < 0) {
    Shape s = ct.shape();
    s.insert(s.begin(), batch);
    ct = broadcast_to(ct, s);
  }
  const Shape &cs = ct.shape(), &ws = w.shape();
  array dx = conv2d_input_grad(
      reshape(transpose(ct, {1, 0, 2, 3, 4}), {cs[1], batch * cs[2], cs[3], cs[4]}),
      reshape(w, {batch * ws[1], ws[2], ws[3], ws[4]}), input_size_, stride_, padding_, dilation_,
      static_cast<int>(batch * groups_));
  return {{reshape(dx, {out[0], batch, out[1], out[2], out[3]})}, {1}};
}

}  // namespace mfx
