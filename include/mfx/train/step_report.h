// The fusion report of a training step: what jit makes of one step of the
// detector, written next to a run's other outputs.
#pragma once

#include <string>

#include "mfx/criteria/criterion.h"
#include "mfx/detr/detector.h"

namespace mfx::train {

/// Compiles the training step of `criterion` once with jit for `batch`'s shapes (without dropout)
/// and writes the fusion reports (summary.txt, report.json, graph.html, kernel IR) under `dir`. The
/// match-free step is traced whole: loss and all gradients in one program ("train_step_1", values
/// and gradients checked equal to eager by the tests). The Hungarian step is mixed, as it must be:
/// its matching runs on the host, so the detector's forward is jitted ("detector_forward_1") and
/// its backward is the compiled derivative of that program
/// ("detector_forward_vjp..."), with the criterion evaluated eagerly in
/// between. Returns the loss of that step.
double write_step_fusion_report(const Tree& params, const detr::Batch& batch,
                                const detr::LossConfig& cfg, criteria::Criterion criterion,
                                const std::string& dir);

}  // namespace mfx::train
