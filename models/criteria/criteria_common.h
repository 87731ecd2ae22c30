// Shared input checks and helpers of the detection criteria (internal).
#pragma once

#include <string>

#include "mfx/detr/criteria.h"

namespace mfx::detr::detail {

/// Throws "[fn] what" as std::invalid_argument.
[[noreturn]] void fail(const std::string& fn, const std::string& what);

/// Checks a non-null floating array of the given rank.
void check_floating(const std::string& fn, const char* name, const array& a, int ndim);

/// Checks one layer's logits [B, N, K] and boxes [B, N, 4] against the
/// targets (labels [B, M] integer, boxes [B, M, 4] floating, mask [B, M]
/// bool). `layer` < 0 omits the layer from messages.
void check_layer(const std::string& fn, const array& logits, const array& boxes, const Targets& t,
                 int layer = -1);

/// Checks the per-layer lists (same non-zero length; hidden too when
/// `need_hidden`) and every layer's shapes against the first one and the
/// targets.
void check_outputs(const std::string& fn, const DecoderOutputs& out, const Targets& t,
                   bool need_hidden);

/// Targets whose padded entries hold label 0 and the box (0.5, 0.5, 1, 1),
/// so padded values (even NaN) never reach a loss or its gradient.
Targets sanitize(const Targets& t);

/// The normaliser: `given` (must be positive and finite) or the number of
/// real ground truths, at least 1. `fn` names the caller in errors.
double num_boxes(const std::string& fn, const Targets& t, const std::optional<double>& given);
/// The same as a 0-d array of `dtype`, computed without reading values on
/// the host (so the match-free loss stays traceable by jit).
array num_boxes_array(const std::string& fn, const Targets& t, const std::optional<double>& given,
                      Dtype dtype);

/// x^gamma, with gamma = 2 as a plain square (exact, and a clean gradient).
array pow_gamma(const array& x, double gamma);

}  // namespace mfx::detr::detail
