// NaN / inf guard for training steps: one check of the loss and every
// gradient leaf, failing with an exception that names the step and the
// offending leaves. A training loop catches it, stops, and keeps the last
// checkpoint written before the bad step (checkpoints are only written after
// a step passed the guard).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mfx/tree.h"

namespace mfx::train {

/// Thrown by check_finite.
class NonFiniteError : public std::runtime_error {
 public:
  NonFiniteError(int64_t step, std::vector<std::string> paths, const std::string& message)
      : std::runtime_error(message), step_(step), paths_(std::move(paths)) {}
  /// The step given to check_finite.
  int64_t step() const { return step_; }
  /// Every non-finite leaf: "loss" / "loss.<path>" for loss leaves and
  /// "grads.<path>" for gradient leaves, in Tree order.
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  int64_t step_;
  std::vector<std::string> paths_;
};

/// Evaluates, in one pass, whether every element of every floating leaf of
/// `loss` (a single array or a Tree of named loss components) and `grads`
/// is finite; integer and bool leaves always are. Throws NonFiniteError
/// otherwise, with a message like
///   "[check_finite] step 12: non-finite values in 3 of 7 leaves: loss (nan),
///    grads.l1.w, grads.l2.b"
/// (scalar loss leaves show their value; at most 10 paths are listed, then
/// "and N more"). Throws std::invalid_argument for null arrays.
void check_finite(const Tree& loss, const Tree& grads, int64_t step);

}  // namespace mfx::train
