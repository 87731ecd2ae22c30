// The loss settings of a training step as JSON: the serialisation
// checkpoints and args.json use, and the key of the jitted step's compile
// cache, so a setting that reaches the JSON reaches the key.
#pragma once

#include <string>

#include "mfx/criteria/criterion.h"
#include "mfx/detr/detector.h"

namespace mfx::train {

/// Every static setting of `cfg` as the text of a JSON object:
/// {"model": detector_config_to_json, "train": bool, "matchfree": every
/// MatchFreeConfig setting as checkpoints record it (variants by name),
/// "hungarian": {"cost": {cls, l1, giou, alpha, gamma}, w_ce, w_bbox,
/// w_giou}}. Per-step values (dropout key, ground-truth count, a fixed
/// assignment) are not settings and are left out.
std::string loss_config_to_json(const detr::LossConfig& cfg);

/// The inverse of loss_config_to_json (equal settings, doubles exact).
/// Strict like detector_config_from_json: a missing or mistyped field or an
/// invalid configuration throws, naming the field.
detr::LossConfig loss_config_from_json(const std::string& text);

/// The key under which a jitted training step of `criterion` is compiled
/// once per process: the criterion's name, cuda_graph and
/// loss_config_to_json(cfg), so any setting that changes the traced program
/// selects another compiled program. Per-step values (detr::StepInputs) are
/// program inputs and no part of it.
std::string jit_step_cache_key(const detr::LossConfig& cfg, criteria::Criterion criterion,
                               bool cuda_graph);

}  // namespace mfx::train
