// Primitives that build a new buffer from whole input arrays: concatenation
// and constant padding (internal). Split, repeat and tile are views or
// compositions and have no primitive of their own.
#pragma once

#include "mfx/primitive.h"

namespace mfx {

/// Joins inputs of one dtype and rank along `axis`; the other dims match.
class Concatenate : public Primitive {
 public:
  explicit Concatenate(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "Concatenate"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
};

/// Inputs (a, value): `a` surrounded by low[i] / high[i] copies of the 0-d
/// `value` (same dtype as a) on each axis i.
class Pad : public Primitive {
 public:
  Pad(Shape low, Shape high) : low_(std::move(low)), high_(std::move(high)) {}
  const Shape& low() const { return low_; }
  const Shape& high() const { return high_; }
  std::string name() const override { return "Pad"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Shape low_;
  Shape high_;
};

}  // namespace mfx
