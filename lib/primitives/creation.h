// Primitives that create data from parameters alone (internal).
#pragma once

#include "mfx/primitive.h"

namespace mfx {

/// out[i] = start + i * step.
class Arange : public Primitive {
 public:
  Arange(double start, double step) : start_(start), step_(step) {}
  double start() const { return start_; }
  double step() const { return step_; }
  std::string name() const override { return "Arange"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  /// No inputs, so nothing to differentiate: an empty list of cotangents.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;

 private:
  double start_, step_;
};

}  // namespace mfx
