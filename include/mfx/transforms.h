// Function transforms: reverse mode (vjp, grad, value_and_grad) and forward
// mode (jvp) over the array graph. They trace the graph a function builds, so
// they compose: grad of grad, jvp of grad, grad of a function over a Tree.
#pragma once

#include <fmt/format.h>

#include <array>
#include <functional>
#include <optional>
#include <stdexcept>
#include <tuple>
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
using BackwardFn = std::function<std::vector<array>(const std::vector<array>& primals,
                                                    const std::vector<array>& outputs,
                                                    const std::vector<array>& cotangents)>;

/// f with a user-defined vjp (e.g. a straight-through or clipped gradient).
/// Forward mode still differentiates f itself.
ArrayFn custom_vjp(ArrayFn f, BackwardFn backward);

/// f rematerialised: its intermediates are not kept for the backward pass,
/// which runs f again from the saved inputs (trading compute for memory).
ArrayFn checkpoint(ArrayFn f);

/// Batch axes for vmap, one per argument (or result): an axis (negative
/// counts from the end) or std::nullopt for "not mapped". An empty list maps
/// axis 0 of everything.
using VmapAxes = std::vector<std::optional<int>>;

/// Vectorising map: vmap(f, in_axes, out_axes)(xs) applies f to every slice
/// of the mapped arguments along their axis (all mapped arguments share the
/// batch size), with unmapped arguments passed whole, and returns results
/// with the batch axis at out_axes (an unmapped result must not depend on a
/// mapped argument; a mapped result that does not depend on any is
/// broadcast). f is traced once on the slices and the trace is batched op by
/// op, so f should not branch on the values of its arguments. Nests, and
/// composes with grad/vjp/jvp in both orders.
ArrayFn vmap(ArrayFn f, VmapAxes in_axes = {}, VmapAxes out_axes = {});

/// vmap for a function of one array returning one array.
std::function<array(const array&)> vmap(std::function<array(const array&)> f,
                                        std::optional<int> in_axis = 0,
                                        std::optional<int> out_axis = 0);

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

namespace detail {

template <typename T>
struct is_aux_pair : std::false_type {};
template <typename A>
struct is_aux_pair<std::pair<array, A>> : std::true_type {};

template <typename T>
constexpr bool differentiable_v = std::is_same_v<T, array> || std::is_same_v<T, Tree>;

/// The shared core of value_and_grad: differentiates the loss (the first
/// element when f returns (loss, aux)) w.r.t. the arguments at `Nums`.
template <int... Nums, typename F, typename... Args>
auto value_and_grad_impl(const F& f, const Args&... args) {
  using ArgTuple = std::tuple<std::decay_t<Args>...>;
  static_assert(((Nums >= 0 && Nums < static_cast<int>(sizeof...(Args))) && ...),
                "value_and_grad: an argnum is out of range for the call's arguments");
  static_assert((differentiable_v<std::tuple_element_t<Nums, ArgTuple>> && ...),
                "value_and_grad: differentiated arguments must be mfx::array or mfx::Tree");
  using Result = std::invoke_result_t<const F&, const Args&...>;
  constexpr bool has_aux = is_aux_pair<std::decay_t<Result>>::value;
  static_assert(has_aux || std::is_same_v<std::decay_t<Result>, array>,
                "value_and_grad: f must return an mfx::array or a std::pair<mfx::array, Aux>");

  const ArgTuple original(args...);
  constexpr size_t count = sizeof...(Nums);
  constexpr std::array<int, count> nums{Nums...};
  std::vector<array> leaves;
  std::vector<size_t> offsets;
  auto add = [&](const auto& a) {
    offsets.push_back(leaves.size());
    auto l = leaves_of(a);
    leaves.insert(leaves.end(), l.begin(), l.end());
  };
  (add(std::get<Nums>(original)), ...);
  offsets.push_back(leaves.size());
  auto part = [&](const std::vector<array>& all, size_t k) {
    return std::vector<array>(all.begin() + offsets[k], all.begin() + offsets[k + 1]);
  };
  // Rebuilds the differentiated arguments of `call` from flat leaves.
  auto replace = [&]<size_t... K>(ArgTuple & call, const std::vector<array>& flat,
                                  std::index_sequence<K...>) {
    ((std::get<nums[K]>(call) = rebuild(std::get<nums[K]>(original), part(flat, K))), ...);
  };

  std::optional<std::decay_t<Result>> result;
  // Named members, not a structured binding: clang before 16 cannot capture
  // a structured binding in a lambda (grad_tuple below reads the gradients).
  auto outs_and_grads = vjp(
      [&](const std::vector<array>& p) -> std::vector<array> {
        ArgTuple call = original;
        replace(call, p, std::make_index_sequence<count>{});
        result.emplace(std::apply(f, call));
        if constexpr (has_aux) {
          return {result->first};
        } else {
          return {*result};
        }
      },
      leaves,
      [](const std::vector<array>& o) -> std::vector<array> {
        check_scalar_loss(o[0], "value_and_grad");
        return {ones_like(o[0])};
      });
  const std::vector<array>& outs = outs_and_grads.first;
  const std::vector<array>& grads = outs_and_grads.second;
  auto grad_tuple = [&]<size_t... K>(std::index_sequence<K...>) {
    return std::make_tuple(rebuild(std::get<nums[K]>(original), part(grads, K))...);
  }
  (std::make_index_sequence<count>{});
  if constexpr (has_aux) {
    return std::make_pair(std::make_pair(outs[0], std::move(result->second)), grad_tuple);
  } else {
    return std::make_pair(outs[0], grad_tuple);
  }
}

}  // namespace detail

/// value_and_grad(f)(x, rest...) -> (f(x, rest...), df/dx) for a scalar f.
/// x is an array or a Tree (the gradient has the same structure); further
/// arguments pass through undifferentiated.
///
/// value_and_grad<I, J, ...>(f) differentiates w.r.t. the arguments at
/// positions I, J, ... (each an array or a Tree) and returns the gradients as
/// a std::tuple in that order:  auto [v, g] = value_and_grad<0, 2>(f)(a, b, c);
/// auto [ga, gc] = g;
///
/// When f returns std::pair<array, Aux> (a loss and auxiliary results, like
/// JAX's has_aux) the value is that pair, with the aux passed through
/// undifferentiated: auto [value, g] = value_and_grad(f)(params);
/// auto [loss, aux] = value;
template <int... Argnums, typename F>
auto value_and_grad(F f) {
  return [f](const auto&... args) {
    static_assert(sizeof...(args) > 0, "value_and_grad: call with at least one argument");
    if constexpr (sizeof...(Argnums) == 0) {
      auto [value, grads] = detail::value_and_grad_impl<0>(f, args...);
      return std::make_pair(std::move(value), std::get<0>(std::move(grads)));
    } else {
      return detail::value_and_grad_impl<Argnums...>(f, args...);
    }
  };
}

/// grad(f)(x, rest...) -> df/dx; grad<I, J, ...>(f) -> a std::tuple of
/// gradients (see value_and_grad; with an aux pair the aux is dropped).
template <int... Argnums, typename F>
auto grad(F f) {
  return [f](const auto&... args) { return value_and_grad<Argnums...>(f)(args...).second; };
}

}  // namespace mfx
