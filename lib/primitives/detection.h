// Primitives of the deformable-attention sampling ops (internal).
//
// Bilinear sampling is linear in the sampled values and in the per-point
// coefficients, and its weights are piecewise bilinear in the sampling
// position: their derivatives of order (a, b) in (x, y) vanish for a > 1 or
// b > 1. So each op is a family indexed by that derivative order, and every
// derivative of a family member is again a member (or zero):
//   sample   S_ab(value, pos, coef) -> out           (the op itself at a=b=0)
//   dot      D_ab(value, pos, ct)   -> per point     (<ct, S> per coefficient)
//   scatter  T_ab(pos, coef, ct)    -> value-shaped  (the adjoint in value)
// with <ct, S_ab(v, c)> = <c, D_ab(v, ct)> = <v, T_ab(c, ct)> and
// d/dx S_ab = S_(a+1)b (scaled by the level / grid size), likewise D and T,
// which gives derivatives of every order. The first-order backward pass
// also has a fused primitive (one sweep for all cotangents) whose own
// derivative rules go through the decomposition.
// Every input has the image batch as axis 0, so one batching rule (fold the
// vmap batch into it) serves all of them.
#pragma once

#include <utility>
#include <vector>

#include "mfx/detection.h"
#include "mfx/primitive.h"

namespace mfx {

using SpatialShapes = std::vector<std::pair<int64_t, int64_t>>;

/// Derivative order (a, b) of the bilinear weights in (x, y); each 0 or 1.
struct SampleOrder {
  int a = 0, b = 0;
  bool operator==(const SampleOrder&) const = default;
};

// ---------------------------------------------------------------- ms_deform_attn

/// Shared parameters, equivalence and batching of the ms_deform_attn family.
/// value [B,S,H,D], locations [B,Q,H,L,P,2], per-point arrays [B,Q,H,L,P],
/// outputs and cotangents of the sample [B,Q,H*D].
class MSDeformAttnBase : public Primitive {
 public:
  MSDeformAttnBase(SpatialShapes shapes, SampleOrder order = {})
      : shapes_(std::move(shapes)), order_(order) {}
  const SpatialShapes& spatial_shapes() const { return shapes_; }
  SampleOrder order() const { return order_; }
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_VMAP_RULE;

 protected:
  std::string suffix() const;  // "" at order (0,0), else "_d<a><b>"
  SpatialShapes shapes_;
  SampleOrder order_;
};

/// S_ab: (value, locations, coefficients) -> [B,Q,H*D]; at (0,0) the
/// coefficients are the attention weights and this is ms_deform_attn.
class MSDeformAttn : public MSDeformAttnBase {
 public:
  using MSDeformAttnBase::MSDeformAttnBase;
  std::string name() const override { return "MSDeformAttn" + suffix(); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

/// D_ab: (value, locations, cotangent [B,Q,H*D]) -> [B,Q,H,L,P].
class MSDeformAttnDot : public MSDeformAttnBase {
 public:
  using MSDeformAttnBase::MSDeformAttnBase;
  std::string name() const override { return "MSDeformAttnDot" + suffix(); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

/// T_ab: (locations, coefficients, cotangent [B,Q,H*D]) -> [B,S,H,D].
class MSDeformAttnScatter : public MSDeformAttnBase {
 public:
  using MSDeformAttnBase::MSDeformAttnBase;
  std::string name() const override { return "MSDeformAttnScatter" + suffix(); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

/// Fused first-order backward: (value, locations, weights, cotangent) ->
/// (grad_value, grad_locations, grad_weights) = (T_00, [w D_10, w D_01], D_00).
class MSDeformAttnBackward : public MSDeformAttnBase {
 public:
  explicit MSDeformAttnBackward(SpatialShapes shapes) : MSDeformAttnBase(std::move(shapes)) {}
  std::string name() const override { return "MSDeformAttnBackward"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

// ---------------------------------------------------------------- grid_sample

/// Shared parameters, equivalence and batching of the grid_sample family.
/// input [N,C,H,W], grid [N,Ho,Wo,2], samples and cotangents [N,C,Ho,Wo].
class GridSampleBase : public Primitive {
 public:
  GridSampleBase(GridPadding padding, bool align_corners, SampleOrder order = {})
      : padding_(padding), align_corners_(align_corners), order_(order) {}
  GridPadding padding() const { return padding_; }
  bool align_corners() const { return align_corners_; }
  SampleOrder order() const { return order_; }
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_VMAP_RULE;

 protected:
  std::string suffix() const;
  GridPadding padding_;
  bool align_corners_;
  SampleOrder order_;
};

/// S_ab: (input, grid) -> [N,C,Ho,Wo]; grid_sample at order (0,0). The
/// derivative orders include the grid-to-pixel scale (0 where border clamps).
class GridSample : public GridSampleBase {
 public:
  using GridSampleBase::GridSampleBase;
  std::string name() const override { return "GridSample" + suffix(); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

/// T_ab: (grid, cotangent [N,C,Ho,Wo]) -> [N,C,H,W] (H, W are parameters).
class GridSampleScatter : public GridSampleBase {
 public:
  GridSampleScatter(GridPadding padding, bool align_corners, SampleOrder order, int64_t height,
                    int64_t width)
      : GridSampleBase(padding, align_corners, order), height_(height), width_(width) {}
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  std::string name() const override { return "GridSampleScatter" + suffix(); }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  int64_t height_, width_;
};

/// Fused first-order backward: (input, grid, cotangent) -> (grad_input,
/// grad_grid) = (T_00, [sum_c ct S_10, sum_c ct S_01]).
class GridSampleBackward : public GridSampleBase {
 public:
  GridSampleBackward(GridPadding padding, bool align_corners)
      : GridSampleBase(padding, align_corners) {}
  std::string name() const override { return "GridSampleBackward"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
};

}  // namespace mfx
