#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "mfx/optimizers.h"

namespace mfx::optim {

Schedule constant(double lr) {
  return [lr](int64_t) { return lr; };
}

Schedule multi_step(double lr, std::vector<int64_t> milestones, double gamma) {
  std::sort(milestones.begin(), milestones.end());
  return [lr, milestones, gamma](int64_t step) {
    auto passed = std::upper_bound(milestones.begin(), milestones.end(), step) - milestones.begin();
    return lr * std::pow(gamma, static_cast<double>(passed));
  };
}

Schedule cosine(double lr, int64_t total_steps, double final_lr) {
  if (total_steps <= 0) {
    throw std::invalid_argument(fmt::format("[cosine] total_steps must be > 0, got {}", total_steps));
  }
  return [=](int64_t step) {
    double t = std::min<double>(static_cast<double>(step) / static_cast<double>(total_steps), 1.0);
    return final_lr + 0.5 * (lr - final_lr) * (1.0 + std::cos(M_PI * t));
  };
}

Schedule warmup(Schedule inner, int64_t warmup_steps, double start_factor) {
  if (warmup_steps < 0) {
    throw std::invalid_argument(fmt::format("[warmup] warmup_steps must be >= 0, got {}", warmup_steps));
  }
  return [=](int64_t step) {
    if (step >= warmup_steps) return inner(step);
    double f = start_factor + (1.0 - start_factor) * static_cast<double>(step) /
                                  static_cast<double>(warmup_steps);
    return f * inner(step);
  };
}

}  // namespace mfx::optim
