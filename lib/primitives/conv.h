// Convolution primitive (internal).
#pragma once

#include <utility>

#include "mfx/primitive.h"

namespace mfx {

/// 2-d cross-correlation of x [N, C, H, W] with w [O, C/groups, kH, kW]
/// (one floating dtype) -> [N, O, H_out, W_out], PyTorch conv2d semantics.
/// Parameters are (height, width) pairs.
class Conv2d : public Primitive {
 public:
  using Pair = std::pair<int64_t, int64_t>;
  Conv2d(Pair stride, Pair padding, Pair dilation, int groups)
      : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {}
  Pair stride() const { return stride_; }
  Pair padding() const { return padding_; }
  Pair dilation() const { return dilation_; }
  int groups() const { return groups_; }
  std::string name() const override { return "Conv2d"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Pair stride_, padding_, dilation_;
  int groups_;
};

/// The input gradient of Conv2d (and conv_transpose2d): for the output's
/// cotangent ct [N, O, H_out, W_out] and w [O, C/groups, kH, kW], dx
/// [N, C, H, W] (H, W = input_size) with
///   dx[n, g C/g + j, y sh + a dh - ph, z sw + b dw - pw] += ct[n, g O/g + o, y, z] w[g O/g + o, j, a, b].
/// The CPU multiplies the transposed weights by the cotangent into patch
/// columns and adds them back into the image (col2im): the FLOPs of the
/// forward, where a convolution of the zero-inserted cotangent would
/// multiply stride^2 times as many, mostly zeros.
class Conv2dInputGrad : public Primitive {
 public:
  using Pair = std::pair<int64_t, int64_t>;
  Conv2dInputGrad(Pair input_size, Pair stride, Pair padding, Pair dilation, int groups)
      : input_size_(input_size),
        stride_(stride),
        padding_(padding),
        dilation_(dilation),
        groups_(groups) {}
  Pair input_size() const { return input_size_; }
  Pair stride() const { return stride_; }
  Pair padding() const { return padding_; }
  Pair dilation() const { return dilation_; }
  int groups() const { return groups_; }
  std::string name() const override { return "Conv2dInputGrad"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Pair input_size_, stride_, padding_, dilation_;
  int groups_;
};

/// The weight gradient of Conv2d: for x [N, C, H, W] and the output's
/// cotangent ct [N, O, H_out, W_out], dW [O, C/groups, kH, kW] with
///   dW[o, j, a, b] = sum_{n,y,z} ct[n, o, y, z] x_pad[n, g(o) C/g + j, y sh + a dh, z sw + b dw].
/// Its own primitive because the CPU computes it as one product per image of
/// the cotangent with the forward's patch matrix (im2col), instead of a
/// convolution whose kernel is the whole output plane.
class Conv2dWeightGrad : public Primitive {
 public:
  using Pair = std::pair<int64_t, int64_t>;
  Conv2dWeightGrad(Pair kernel, Pair stride, Pair padding, Pair dilation, int groups)
      : kernel_(kernel), stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {}
  Pair kernel() const { return kernel_; }
  Pair stride() const { return stride_; }
  Pair padding() const { return padding_; }
  Pair dilation() const { return dilation_; }
  int groups() const { return groups_; }
  std::string name() const override { return "Conv2dWeightGrad"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Pair kernel_, stride_, padding_, dilation_;
  int groups_;
};

}  // namespace mfx
