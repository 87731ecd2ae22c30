// Max pooling as a primitive (internal): one pass over each window instead
// of kH kW strided slices of a padded copy combined by maximum, whose
// gradient padded every slice's cotangent back to the input's size.
#pragma once

#include <utility>

#include "mfx/primitive.h"

namespace mfx {

/// x [N, C, H, W] -> (values [N, C, Ho, Wo] in x's dtype, argmax int32 of
/// the same shape): each window's maximum over the positions inside the
/// input (padding never wins) and its flat index h W + w in x's plane, the
/// first in row-major window order on ties. A NaN in a window is its
/// maximum (the first NaN's index), as numpy's maximum propagates it.
/// Geometry validated by the op (PyTorch's floor mode, padding at most half
/// the kernel, so every window holds an input position).
class MaxPool2d : public Primitive {
 public:
  using Pair = std::pair<int64_t, int64_t>;
  MaxPool2d(Pair kernel, Pair stride, Pair padding)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  Pair kernel() const { return kernel_; }
  Pair stride() const { return stride_; }
  Pair padding() const { return padding_; }
  std::string name() const override { return "MaxPool2d"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Pair kernel_, stride_, padding_;
};

/// Builds the MaxPool2d node for a 4-d x whose geometry the caller checked:
/// (values, argmax).
std::pair<array, array> max_pool2d_with_argmax(const array& x, MaxPool2d::Pair kernel,
                                               MaxPool2d::Pair stride, MaxPool2d::Pair padding);

}  // namespace mfx
