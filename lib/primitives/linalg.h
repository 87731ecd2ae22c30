// Matrix-product primitives (internal).
#pragma once

#include "mfx/primitive.h"

namespace mfx {

/// Batched matrix product: a [..., M, K] x b [..., K, N] -> [..., M, N].
/// Both inputs have one floating dtype and the same batch shape; the op
/// function broadcasts batch axes as stride-0 views, so nothing is copied.
class Matmul : public Primitive {
 public:
  std::string name() const override { return "Matmul"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;
  bool is_equivalent(const Primitive& other) const override;
};

}  // namespace mfx
