// ms_deform_attn and grid_sample: validation and graph construction (the
// MSDeformAttn and GridSample primitives).
#include "mfx/detection.h"

#include <memory>

#include "ops/op_utils.h"
#include "primitives/detection.h"

namespace mfx {

namespace {

// Every input floating and of one dtype (sampling mixes them in one kernel).
Dtype common_float_dtype(const std::vector<std::pair<const char*, const array*>>& inputs,
                         const char* op) {
  std::string desc;
  bool ok = true;
  for (auto& [name, a] : inputs) {
    desc += fmt::format("{}{} {} {}", desc.empty() ? "" : ", ", name, dtype_name(a->dtype()),
                        shape_str(a->shape()));
    ok = ok && is_floating(a->dtype()) && a->dtype() == inputs[0].second->dtype();
  }
  if (!ok) {
    throw std::invalid_argument(
        fmt::format("[{}] inputs must share one floating dtype, got {}", op, desc));
  }
  return inputs[0].second->dtype();
}

}  // namespace

array ms_deform_attn(const array& value, const SpatialShapes& spatial_shapes,
                     const array& sampling_locations, const array& attention_weights) {
  const char* op = "ms_deform_attn";
  check_valid(value, op);
  check_valid(sampling_locations, op);
  check_valid(attention_weights, op);
  const Shape &vs = value.shape(), &ls = sampling_locations.shape(),
              &ws = attention_weights.shape();
  if (vs.size() != 4 || ls.size() != 6 || ls[5] != 2 || ws.size() != 5) {
    throw std::invalid_argument(fmt::format(
        "[ms_deform_attn] expected value [B,S,H,Dh], sampling_locations [B,Q,H,L,P,2] and "
        "attention_weights [B,Q,H,L,P], got {}, {} and {}",
        shape_str(vs), shape_str(ls), shape_str(ws)));
  }
  for (size_t d = 0; d < 5; ++d) {
    if (ls[d] != ws[d]) {
      throw std::invalid_argument(fmt::format(
          "[ms_deform_attn] sampling_locations {} and attention_weights {} disagree in [B,Q,H,L,P]",
          shape_str(ls), shape_str(ws)));
    }
  }
  if (ls[0] != vs[0] || ls[2] != vs[2]) {
    throw std::invalid_argument(fmt::format(
        "[ms_deform_attn] value {} and sampling_locations {} disagree in batch B or heads H",
        shape_str(vs), shape_str(ls)));
  }
  if (static_cast<int64_t>(spatial_shapes.size()) != ls[3]) {
    throw std::invalid_argument(
        fmt::format("[ms_deform_attn] {} spatial shapes given but sampling_locations {} has L={}",
                    spatial_shapes.size(), shape_str(ls), ls[3]));
  }
  int64_t total = 0;
  std::string levels;
  for (auto [h, w] : spatial_shapes) {
    levels += fmt::format("{}({},{})", levels.empty() ? "" : " ", h, w);
    if (h < 1 || w < 1) {
      throw std::invalid_argument(
          fmt::format("[ms_deform_attn] level sizes must be >= 1, got ({},{})", h, w));
    }
    total += h * w;
  }
  if (total != vs[1]) {
    throw std::invalid_argument(fmt::format(
        "[ms_deform_attn] value {} has S={} positions but the levels [{}] hold sum H_l*W_l={}",
        shape_str(vs), vs[1], levels, total));
  }
  Dtype t = common_float_dtype({{"value", &value},
                                {"sampling_locations", &sampling_locations},
                                {"attention_weights", &attention_weights}},
                               op);
  return array({vs[0], ls[1], vs[2] * vs[3]}, t, std::make_shared<MSDeformAttn>(spatial_shapes),
               {value, sampling_locations, attention_weights});
}

array grid_sample(const array& input, const array& grid, GridPadding padding, bool align_corners) {
  const char* op = "grid_sample";
  check_valid(input, op);
  check_valid(grid, op);
  const Shape &is = input.shape(), &gs = grid.shape();
  if (is.size() != 4 || gs.size() != 4 || gs[3] != 2 || gs[0] != is[0]) {
    throw std::invalid_argument(
        fmt::format("[grid_sample] expected input [N,C,H,W] and grid [N,Ho,Wo,2] with the same N, "
                    "got {} and {}",
                    shape_str(is), shape_str(gs)));
  }
  if (is[2] < 1 || is[3] < 1) {
    throw std::invalid_argument(
        fmt::format("[grid_sample] input {} has an empty spatial extent", shape_str(is)));
  }
  Dtype t = common_float_dtype({{"input", &input}, {"grid", &grid}}, op);
  return array({is[0], is[1], gs[1], gs[2]}, t,
               std::make_shared<GridSample>(padding, align_corners), {input, grid});
}

}  // namespace mfx
