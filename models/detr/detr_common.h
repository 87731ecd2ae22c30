// Internal helpers of the Deformable DETR model: errors, parameter lookup
// with shape checks, torch-style Linear / LayerNorm and dropout keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mfx/array.h"
#include "mfx/detr/deformable_detr.h"
#include "mfx/tree.h"

namespace mfx::detr::detail {

/// Throws "[fn] what" as std::invalid_argument.
[[noreturn]] void fail(const std::string& fn, const std::string& what);

/// "prefix.name" (or "name" for an empty prefix).
std::string join(const std::string& prefix, const std::string& name);

/// The leaf at `path`, checked to have `shape` when one is given; errors
/// name `fn`, the path and both shapes.
const array& param(const std::string& fn, const Tree& params, const std::string& path,
                   const std::optional<Shape>& shape = std::nullopt);

/// torch.nn.Linear under `prefix`: x @ weight^T + bias, with weight [out, in]
/// checked against x's last axis.
array linear(const std::string& fn, const Tree& params, const std::string& prefix, const array& x);

/// torch.nn.LayerNorm (eps 1e-5) over the last axis, parameters under `prefix`.
array layer_norm(const std::string& fn, const Tree& params, const std::string& prefix,
                 const array& x);

/// log(x / (1 - x)) with both clamped at 1e-5, as the reference.
array inverse_sigmoid(const array& x);

/// Dropout of one site: identity in eval; in training the site's key is
/// fold_in(key, site) so every site draws independent elements.
array drop(const array& x, double p, bool train, const std::optional<array>& key, uint64_t site);

/// Throws when training without a key.
void check_key(const std::string& fn, bool train, const std::optional<array>& key);

/// Checks a [B, S] bool padding mask against the batch and length.
void check_padding_mask(const std::string& fn, const std::optional<array>& mask, int64_t batch,
                        int64_t length);

}  // namespace mfx::detr::detail
