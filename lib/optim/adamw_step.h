// One AdamW update of one tensor as a single pass (internal). The eager
// update is a dozen elementwise ops per tensor, each streaming whole
// tensors through memory; on evaluated CPU parameters AdamW::update runs
// this primitive instead, with the same operations in the same order and
// rounding, so both give the same bits.
#pragma once

#include <vector>

#include "mfx/primitive.h"

namespace mfx::optim::detail {

/// The scalars of one tensor's update at one step.
struct AdamWScalars {
  double lr = 0, weight_decay = 0, beta1 = 0, beta2 = 0, eps = 0;
  double bias_correction1 = 1, bias_correction2 = 1;  // 1 - beta^t
};

/// (p, m, v) -> (p', m', v') for gradient g (p's dtype), as the ops
///   m' = b1 m + (1 - b1) g,   v' = b2 v + (1 - b2) g^2,
///   p' = p (1 - lr wd) - (lr / bc1) m' / (sqrt(v' / bc2) + eps).
std::vector<array> adamw_composite(const array& p, const array& g, const array& m,
                                   const array& v, const AdamWScalars& s);

/// The same three arrays through the fused AdamWStep primitive. Its
/// derivatives and batching are the composite's.
std::vector<array> adamw_fused(const array& p, const array& g, const array& m, const array& v,
                               const AdamWScalars& s);

/// True when adamw_fused applies: float32/float64 arrays of one shape and
/// dtype, the parameter evaluated on the CPU.
bool adamw_fusable(const array& p, const array& g, const array& m, const array& v);

}  // namespace mfx::optim::detail
