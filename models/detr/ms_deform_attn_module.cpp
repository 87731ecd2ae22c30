// MSDeformAttn: the module around the ms_deform_attn core op (projections,
// sampling locations from reference points and offsets, joint softmax over
// levels x points).
#include <string>
#include <vector>

#include "detr/detr_common.h"
#include "mfx/detection.h"
#include "mfx/ops.h"

namespace mfx::detr {

array ms_deform_attn_module(const Tree& params, const std::string& prefix, const array& query,
                            const array& reference_points, const array& input_flatten,
                            const SpatialShapes& shapes, const std::optional<array>& padding_mask,
                            int64_t nheads) {
  const std::string fn = "ms_deform_attn_module";
  using detail::fail;
  using detail::join;
  if (query.ndim() != 3 || input_flatten.ndim() != 3 || query.shape(0) != input_flatten.shape(0) ||
      query.shape(2) != input_flatten.shape(2)) {
    fail(fn, "query [B, Q, d] and input_flatten [B, S, d] disagree: " + shape_str(query.shape()) +
                 " and " + shape_str(input_flatten.shape()));
  }
  const int64_t b = query.shape(0), q = query.shape(1), d = query.shape(2);
  const int64_t s = input_flatten.shape(1);
  const int64_t levels = static_cast<int64_t>(shapes.size());
  if (levels == 0) fail(fn, "needs at least one level");
  int64_t total = 0;
  for (const auto& [h, w] : shapes) total += h * w;
  if (total != s) {
    fail(fn, "input_flatten has " + std::to_string(s) +
                 " positions but the spatial shapes sum to " + std::to_string(total));
  }
  if (nheads <= 0 || d % nheads != 0) {
    fail(fn, "nheads " + std::to_string(nheads) + " does not divide d_model " + std::to_string(d));
  }
  const array& w_off = detail::param(fn, params, join(prefix, "sampling_offsets.weight"));
  const int64_t hl2 = nheads * levels * 2;
  if (w_off.ndim() != 2 || w_off.shape(0) % hl2 != 0 || w_off.shape(0) == 0) {
    fail(fn, "'" + join(prefix, "sampling_offsets.weight") + "' has shape " +
                 shape_str(w_off.shape()) +
                 ", whose rows are not a multiple of heads x levels x 2 = " + std::to_string(hl2));
  }
  const int64_t points = w_off.shape(0) / hl2;
  const int64_t ref_dim = reference_points.ndim() == 4 ? reference_points.shape(3) : 0;
  if (reference_points.ndim() != 4 || reference_points.shape(0) != b ||
      reference_points.shape(1) != q || reference_points.shape(2) != levels ||
      (ref_dim != 2 && ref_dim != 4)) {
    fail(fn,
         "reference_points must be [B, Q, L, 2] or [B, Q, L, 4] = " + shape_str({b, q, levels, 2}) +
             " or (.., 4), got " + shape_str(reference_points.shape()));
  }
  detail::check_padding_mask(fn, padding_mask, b, s);

  array value = detail::linear(fn, params, join(prefix, "value_proj"), input_flatten);
  if (padding_mask) value = where(expand_dims(*padding_mask, -1), zeros_like(value), value);
  value = reshape(value, {b, s, nheads, d / nheads});

  const array offsets = reshape(detail::linear(fn, params, join(prefix, "sampling_offsets"), query),
                                {b, q, nheads, levels, points, 2});
  array weights = detail::linear(fn, params, join(prefix, "attention_weights"), query);
  if (weights.shape(-1) != nheads * levels * points) {
    fail(fn, "'" + join(prefix, "attention_weights.weight") + "' gives " +
                 std::to_string(weights.shape(-1)) +
                 " weights, expected heads x levels x points = " +
                 std::to_string(nheads * levels * points));
  }
  weights = reshape(softmax(reshape(weights, {b, q, nheads, levels * points}), -1),
                    {b, q, nheads, levels, points});

  array locations;
  if (ref_dim == 2) {
    std::vector<double> normaliser;
    for (const auto& [h, w] : shapes) {
      normaliser.push_back(static_cast<double>(w));
      normaliser.push_back(static_cast<double>(h));
    }
    const array norm =
        reshape(array(normaliser, {levels, 2}, offsets.dtype()), {1, 1, 1, levels, 1, 2});
    locations = reshape(reference_points, {b, q, 1, levels, 1, 2}) + offsets / norm;
  } else {
    const array centre = reshape(slice_axis(reference_points, 3, 0, 2), {b, q, 1, levels, 1, 2});
    const array size = reshape(slice_axis(reference_points, 3, 2, 4), {b, q, 1, levels, 1, 2});
    locations = centre + offsets / static_cast<double>(points) * size * 0.5;
  }
  const array out = ms_deform_attn(value, shapes, locations, weights);
  return detail::linear(fn, params, join(prefix, "output_proj"), out);
}

}  // namespace mfx::detr
