// The training step's loss and gradients through jit (internal; used by
// train_step when StepConfig::jit is set).
//
// Match-free: one compiled program computes the loss, its components and
// the gradients of the detector and the probe. Hungarian (the mixed
// schedule): the detector's forward is a compiled program, the matching and
// the criterion run eagerly on its outputs (the assignment is solved on the
// host), and the gradient flows back through the compiled forward, whose
// derivative is compiled too. The dropout key and the global ground-truth
// count are inputs of the programs, so one compilation per batch shape
// serves every step. Compiled functions are kept for the process per
// (criterion, configuration).
#pragma once

#include <string>

#include "mfx/criteria/criterion.h"
#include "mfx/detr/detector.h"

namespace mfx::train::detail {

struct JitLossGrads {
  array loss;
  Tree components;  ///< as *_loss_and_components, "loss" included
  Tree grads;       ///< gradients of every leaf of params
};

/// `in` must hold the dropout key (used when cfg.train) and
/// criterion.num_boxes_value (a scalar): inputs of the programs. The
/// Hungarian criterion reads the count on the host. With `cuda_graph` the
/// programs replay as CUDA graphs on GPU arrays (JitOptions::cuda_graph).
/// Throws std::invalid_argument for a fixed assignment (a per-step constant
/// jit cannot take).
JitLossGrads jit_loss_and_grads(const Tree& params, const detr::Batch& batch,
                                const detr::LossConfig& cfg, criteria::Criterion criterion,
                                const detr::StepInputs& in, bool cuda_graph);

}  // namespace mfx::train::detail
