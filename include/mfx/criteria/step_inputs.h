// What a criterion takes per training step beside its configuration: the
// configs (HungarianConfig, MatchFreeConfig) hold settings only, so they can
// be serialised and used as a compile-cache key, while the values that
// change from step to step (ground-truth count, a fixed assignment) come
// here.
#pragma once

#include <optional>
#include <vector>

#include "mfx/array.h"

namespace mfx::criteria {

struct StepInputs {
  /// Normaliser of every term, positive and finite (in data-parallel
  /// training the global ground-truth count); default: the real ground
  /// truths of the batch, at least 1.
  std::optional<double> num_boxes;
  /// num_boxes as a scalar array, used instead when set. The match-free
  /// criterion keeps it an array (a jitted step takes it as a program input,
  /// so one trace serves every count); the Hungarian one reads it on the host.
  std::optional<array> num_boxes_value;
  /// Match-free only: per decoder layer [B, M, N] floating, used as Â
  /// instead of the sparse correspondence (a constant: no gradient).
  std::optional<std::vector<array>> fixed_assignment;
};

}  // namespace mfx::criteria
