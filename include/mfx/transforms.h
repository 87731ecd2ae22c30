// Function transforms: reverse mode (vjp, grad, value_and_grad) and forward
// mode (jvp) over the array graph. They trace the graph a function builds, so
// they compose: grad of grad, jvp of grad, grad of a function over a Tree.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "mfx/array.h"
#include "mfx/ops.h"
#include "mfx/tree.h"

namespace mfx {

/// A function of several arrays returning several arrays.
using ArrayFn = std::function<std::vector<array>(const std::vector<array>&)>;

/// Reverse mode: returns (f(primals), cotangents of the primals) for the given
/// output cotangents (one per output, with the output's shape).
std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& f,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);

/// Reverse mode where the output cotangents are chosen after f has run
/// (e.g. ones for a scalar loss): make_cotangents(outputs) -> cotangents.
std::pair<std::vector<array>, std::vector<array>> vjp(
    const ArrayFn& f, const std::vector<array>& primals,
    const std::function<std::vector<array>(const std::vector<array>&)>& make_cotangents);

/// Forward mode: returns (f(primals), tangents of the outputs) for the given
/// input tangents (one per primal, with the primal's shape).
std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& f,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);

/// User-supplied backward for custom_vjp: (primals, outputs, cotangents) ->
/// one cotangent per primal.
using BackwardFn = std::function<std::vector<array>(
    const std::vector<array>& primals, const std::vector<array>& outputs,
    const std::vector<array>& cotangents)>;

/// f with a user-defined vjp (e.g. a straight-through or clipped gradient).
/// Forward mode still differentiates f itself.
ArrayFn custom_vjp(ArrayFn f, BackwardFn backward);

/// f rematerialised: its intermediates are not kept for the backward pass,
/// which runs f again from the saved inputs (trading compute for memory).
ArrayFn checkpoint(ArrayFn f);

namespace detail {

/// Checks that a loss is a one-element floating array; names the transform.
void check_scalar_loss(const array& loss, const char* transform);

template <typename First>
std::vector<array> leaves_of(const First& first) {
  if constexpr (std::is_same_v<First, Tree>) {
    return first.leaves();
  } else {
    return {first};
  }
}

template <typename First>
First rebuild(const First& like, const std::vector<array>& leaves) {
  if constexpr (std::is_same_v<First, Tree>) {
    return like.unflatten(leaves);
  } else {
    return leaves.at(0);
  }
}

}  // namespace detail

/// value_and_grad(f)(x, rest...) -> (f(x, rest...), df/dx) for a scalar f.
/// x is an array or a Tree (the gradient has the same structure); further
/// arguments pass through undifferentiated.
template <typename F>
auto value_and_grad(F f) {
  return [f](const auto& first, const auto&... rest) {
    using First = std::decay_t<decltype(first)>;
    static_assert(std::is_same_v<First, array> || std::is_same_v<First, Tree>,
                  "value_and_grad: the first argument must be an mfx::array or mfx::Tree");
    std::vector<array> leaves = detail::leaves_of(first);
    auto [outs, grads] = vjp(
        [&](const std::vector<array>& p) -> std::vector<array> {
          return {f(detail::rebuild(first, p), rest...)};
        },
        leaves,
        [](const std::vector<array>& o) -> std::vector<array> {
          detail::check_scalar_loss(o[0], "value_and_grad");
          return {ones_like(o[0])};
        });
    return std::make_pair(outs[0], detail::rebuild(first, grads));
  };
}

/// grad(f)(x, rest...) -> df/dx for a scalar f (see value_and_grad).
template <typename F>
auto grad(F f) {
  return [f](const auto& first, const auto&... rest) {
    return value_and_grad(f)(first, rest...).second;
  };
}

}  // namespace mfx
