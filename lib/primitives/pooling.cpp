// MaxPool2d's node construction and its transform rules: the values are
// x gathered at the argmax, so the derivatives go through take_along_axis
// and scatter_add over each image plane flattened.
#include "primitives/pooling.h"

#include "mfx/ops.h"

namespace mfx {

std::pair<array, array> max_pool2d_with_argmax(const array& x, MaxPool2d::Pair kernel,
                                               MaxPool2d::Pair stride, MaxPool2d::Pair padding) {
  const int64_t ho = (x.shape(2) + 2 * padding.first - kernel.first) / stride.first + 1;
  const int64_t wo = (x.shape(3) + 2 * padding.second - kernel.second) / stride.second + 1;
  const Shape s{x.shape(0), x.shape(1), ho, wo};
  auto outs = array::make_arrays({s, s}, {x.dtype(), int32},
                                 std::make_shared<MaxPool2d>(kernel, stride, padding), {x});
  return {outs[0], outs[1]};
}

bool MaxPool2d::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const MaxPool2d*>(&other);
  return o && o->kernel_ == kernel_ && o->stride_ == stride_ && o->padding_ == padding_;
}

namespace {

// [N, C, H, W] -> [N C, H W] and back.
array planes(const array& a) {
  return reshape(a, {a.shape(0) * a.shape(1), a.shape(2) * a.shape(3)});
}

}  // namespace

// The argmax is recomputed (the caller may have dropped that output; under
// jit the recomputation is the forward's node again).
std::vector<array> MaxPool2d::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cts, const std::vector<int>& argnums,
                                  const std::vector<array>&) {
  const array& x = primals[0];
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (!is_floating(x.dtype())) {
      res.push_back(zeros_like(x));
      continue;
    }
    const array argmax = max_pool2d_with_argmax(x, kernel_, stride_, padding_).second;
    const array g = scatter_add(zeros({x.shape(0) * x.shape(1), x.shape(2) * x.shape(3)}, x.dtype()),
                                planes(argmax), planes(astype(cts[0], x.dtype())), 1);
    res.push_back(reshape(g, x.shape()));
  }
  return res;
}

std::vector<array> MaxPool2d::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents, const std::vector<int>&) {
  const array& x = primals[0];
  auto [values, argmax] = max_pool2d_with_argmax(x, kernel_, stride_, padding_);
  if (!is_floating(x.dtype())) return {zeros_like(values), zeros_like(argmax)};
  const array t = take_along_axis(planes(astype(tangents[0], x.dtype())), planes(argmax), 1);
  return {reshape(t, values.shape()), zeros_like(argmax)};
}

// The batch axis joins the images: [.., B, ..] -> [B N, C, H, W].
std::pair<std::vector<array>, std::vector<int>> MaxPool2d::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&) {
  const array x = moveaxis(inputs[0], axes[0], 0);
  const int64_t batch = x.shape(0);
  const array merged = reshape(x, {batch * x.shape(1), x.shape(2), x.shape(3), x.shape(4)});
  auto [values, argmax] = max_pool2d_with_argmax(merged, kernel_, stride_, padding_);
  auto split = [&](const array& a) {
    return reshape(a, {batch, x.shape(1), a.shape(1), a.shape(2), a.shape(3)});
  };
  return {{split(values), split(argmax)}, {0, 0}};
}

}  // namespace mfx
