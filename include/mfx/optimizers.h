// Functional optimisers on parameter Trees: the state is a Tree too, and an
// update returns new parameters and a new state (nothing is mutated), so a
// training step is a pure function that can be saved, restored and jitted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx::optim {

/// Learning rate as a function of the step (0-based count of updates done).
using Schedule = std::function<double(int64_t step)>;

/// Always `lr`.
Schedule constant(double lr);
/// lr × gamma^k where k is the number of milestones <= step (PyTorch MultiStepLR).
Schedule multi_step(double lr, std::vector<int64_t> milestones, double gamma = 0.1);
/// Cosine decay from lr to final_lr over total_steps, then final_lr.
Schedule cosine(double lr, int64_t total_steps, double final_lr = 0.0);
/// Linear warm-up from start_factor × inner(0) to inner over warmup_steps,
/// then `inner` (shifted by nothing: inner sees the global step).
Schedule warmup(Schedule inner, int64_t warmup_steps, double start_factor = 0.0);

/// Per-parameter overrides selected by name: the first group whose pattern
/// occurs as a substring of a leaf's dotted path applies (e.g. "backbone",
/// "sampling_offsets"). lr_scale multiplies the schedule's rate.
struct ParamGroup {
  std::string pattern;
  double lr_scale = 1.0;
  std::optional<double> weight_decay;
};

struct AdamWConfig {
  Schedule lr = constant(1e-3);
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p -= lr * wd * p
  std::vector<ParamGroup> groups;
};

struct SGDConfig {
  Schedule lr = constant(1e-2);
  double momentum = 0.0;
  double weight_decay = 0.0;  // coupled, as torch.optim.SGD: g += wd * p
  bool nesterov = false;
  std::vector<ParamGroup> groups;
};

/// AdamW (Loshchilov & Hutter), numerically as torch.optim.AdamW.
class AdamW {
 public:
  explicit AdamW(AdamWConfig config) : config_(std::move(config)) {}
  /// {"step": int64 0, "m": zeros like params, "v": zeros like params}.
  Tree init(const Tree& params) const;
  /// One update: returns (new params, new state). grads must match params.
  std::pair<Tree, Tree> update(const Tree& params, const Tree& grads, const Tree& state) const;
  const AdamWConfig& config() const { return config_; }

 private:
  AdamWConfig config_;
};

/// SGD with optional (Nesterov) momentum, numerically as torch.optim.SGD.
class SGD {
 public:
  explicit SGD(SGDConfig config) : config_(std::move(config)) {}
  /// {"step": int64 0, "momentum": zeros like params}.
  Tree init(const Tree& params) const;
  std::pair<Tree, Tree> update(const Tree& params, const Tree& grads, const Tree& state) const;
  const SGDConfig& config() const { return config_; }

 private:
  SGDConfig config_;
};

/// sqrt of the sum of squares of all leaves (float32 scalar; float64 if any leaf is).
array global_norm(const Tree& tree);

/// Scales all leaves by min(1, max_norm / (norm + 1e-6)) like
/// torch.nn.utils.clip_grad_norm_; returns the clipped tree and the norm
/// before clipping.
std::pair<Tree, array> clip_by_global_norm(const Tree& grads, double max_norm);

}  // namespace mfx::optim
