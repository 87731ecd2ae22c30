#include "mfx/primitive.h"

#include <fmt/format.h>

namespace mfx {

void Primitive::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error(fmt::format("[{}] has no GPU kernel in this build", name()));
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::runtime_error(fmt::format("[{}] has no vjp rule", name()));
}

std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::runtime_error(fmt::format("[{}] has no jvp rule", name()));
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&,
                                                                const std::vector<int>&) {
  throw std::runtime_error(fmt::format("[{}] has no vmap rule", name()));
}

}  // namespace mfx
