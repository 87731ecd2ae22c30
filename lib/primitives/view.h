// Primitives whose CPU output is a view of the input buffer when the layout
// allows (no copy): reshape, transpose, broadcast, strided slice (internal).
#pragma once

#include "mfx/primitive.h"

namespace mfx {

class Reshape : public Primitive {
 public:
  explicit Reshape(Shape shape) : shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  std::string name() const override { return "Reshape"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Shape shape_;
};

class Transpose : public Primitive {
 public:
  explicit Transpose(std::vector<int> axes) : axes_(std::move(axes)) {}
  const std::vector<int>& axes() const { return axes_; }
  std::string name() const override { return "Transpose"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  std::vector<int> axes_;
};

/// Broadcast to a shape (input rank may be lower; numpy alignment).
class Broadcast : public Primitive {
 public:
  explicit Broadcast(Shape shape) : shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  std::string name() const override { return "Broadcast"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Shape shape_;
};

/// Strided slice; start is the first index taken per axis (already clamped),
/// step may be negative; out_shape is the result's shape (the jvp rule, which
/// sees no outputs, needs it).
class Slice : public Primitive {
 public:
  Slice(Shape start, Shape step, Shape out_shape)
      : start_(std::move(start)), step_(std::move(step)), out_shape_(std::move(out_shape)) {}
  const Shape& start() const { return start_; }
  const Shape& step() const { return step_; }
  const Shape& out_shape() const { return out_shape_; }
  std::string name() const override { return "Slice"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  Shape start_;
  Shape step_;
  Shape out_shape_;
};

/// The identity view a transform puts in front of each traced input
/// (transforms::trace_input): a distinct node per input. The jit's
/// simplification drops it and the GPU dispatch runs it as a view, both by
/// its type. Its rules live with the tracing code (transforms/trace.cpp).
class TraceInput : public Primitive {
 public:
  std::string name() const override { return "TraceInput"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;
};

}  // namespace mfx
