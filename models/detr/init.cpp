// Parameter initialisation of Deformable DETR, following the reference's
// module defaults and its _reset_parameters overrides (see the header).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "detr/detr_common.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

using Items = std::vector<std::pair<std::string, array>>;

// FNV-1a: a key per path that does not depend on which other parameters exist.
uint64_t path_hash(const std::string& path) {
  uint32_t h = 2166136261u;
  for (unsigned char c : path) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

struct Builder {
  array key;
  Dtype dtype;
  Items items;

  array k(const std::string& path) const { return random::fold_in(key, path_hash(path)); }
  void uniform(const std::string& path, const Shape& shape, double bound) {
    items.emplace_back(path, random::uniform(k(path), shape, -bound, bound, dtype));
  }
  void constant(const std::string& path, const Shape& shape, double value) {
    items.emplace_back(path, full(shape, array(value), dtype));
  }
  void normal(const std::string& path, const Shape& shape) {
    items.emplace_back(path, random::normal(k(path), shape, 0.0, 1.0, dtype));
  }
  // xavier_uniform_ with gain 1: fans include the receptive field of convs.
  void xavier(const std::string& path, const Shape& shape) {
    int64_t receptive = 1;
    for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
    const double fan_in = static_cast<double>(shape[1] * receptive);
    const double fan_out = static_cast<double>(shape[0] * receptive);
    uniform(path, shape, std::sqrt(6.0 / (fan_in + fan_out)));
  }
  // torch.nn.Linear's default: weight and bias U(+-1/sqrt(fan_in)).
  void torch_linear(const std::string& prefix, int64_t in, int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    uniform(prefix + ".weight", {out, in}, bound);
    uniform(prefix + ".bias", {out}, bound);
  }
  void norm(const std::string& prefix, int64_t d) {
    constant(prefix + ".weight", {d}, 1.0);
    constant(prefix + ".bias", {d}, 0.0);
  }
  // FFN after the transformer's reset: xavier weights, default biases.
  void ffn(const std::string& prefix, int64_t d, int64_t ff) {
    xavier(prefix + ".linear1.weight", {ff, d});
    uniform(prefix + ".linear1.bias", {ff}, 1.0 / std::sqrt(static_cast<double>(d)));
    xavier(prefix + ".linear2.weight", {d, ff});
    uniform(prefix + ".linear2.bias", {d}, 1.0 / std::sqrt(static_cast<double>(ff)));
  }
  void ms_deform_attn(const std::string& prefix, int64_t d, int64_t heads, int64_t levels,
                      int64_t points) {
    const int64_t hlp = heads * levels * points;
    constant(prefix + ".sampling_offsets.weight", {hlp * 2, d}, 0.0);
    // Head h looks along direction 2 pi h / heads (scaled to the unit square),
    // point p at distance p + 1; computed in float like the reference.
    std::vector<float> bias(static_cast<size_t>(hlp * 2));
    for (int64_t h = 0; h < heads; ++h) {
      const float theta = static_cast<float>(h) *
                          static_cast<float>(2.0 * std::numbers::pi / static_cast<double>(heads));
      const float c = std::cos(theta), s = std::sin(theta);
      const float m = std::max(std::abs(c), std::abs(s));
      for (int64_t l = 0; l < levels; ++l) {
        for (int64_t p = 0; p < points; ++p) {
          const size_t i = static_cast<size_t>(((h * levels + l) * points + p) * 2);
          bias[i] = c / m * static_cast<float>(p + 1);
          bias[i + 1] = s / m * static_cast<float>(p + 1);
        }
      }
    }
    items.emplace_back(prefix + ".sampling_offsets.bias",
                       astype(array(bias, {hlp * 2}, float32), dtype));
    constant(prefix + ".attention_weights.weight", {hlp, d}, 0.0);
    constant(prefix + ".attention_weights.bias", {hlp}, 0.0);
    xavier(prefix + ".value_proj.weight", {d, d});
    constant(prefix + ".value_proj.bias", {d}, 0.0);
    xavier(prefix + ".output_proj.weight", {d, d});
    constant(prefix + ".output_proj.bias", {d}, 0.0);
  }
};

}  // namespace

Tree init_deformable_detr(const array& key, const DeformableDetrConfig& cfg, Dtype dtype) {
  cfg.validate();
  if (!is_floating(dtype)) {
    detail::fail("init_deformable_detr",
                 "dtype must be floating, got " + std::string(dtype_name(dtype)));
  }
  Builder b{key, dtype, {}};
  const int64_t d = cfg.d_model, levels = cfg.num_feature_levels;
  const int64_t n_backbone = static_cast<int64_t>(cfg.backbone_channels.size());

  // Input projections: 1x1 conv + GN per backbone level, then 3x3/2 conv + GN.
  for (int64_t l = 0; l < levels; ++l) {
    const std::string p = "input_proj." + std::to_string(l);
    const bool extra = l >= n_backbone;
    const int64_t in =
        !extra ? cfg.backbone_channels[l] : (l == n_backbone ? cfg.backbone_channels.back() : d);
    const int64_t ks = extra ? 3 : 1;
    b.xavier(p + ".0.weight", {d, in, ks, ks});
    b.constant(p + ".0.bias", {d}, 0.0);
    b.norm(p + ".1", d);
  }

  b.normal("transformer.level_embed", {levels, d});
  for (int64_t i = 0; i < cfg.enc_layers; ++i) {
    const std::string p = "transformer.encoder.layers." + std::to_string(i);
    b.ms_deform_attn(p + ".self_attn", d, cfg.nheads, levels, cfg.enc_points);
    b.norm(p + ".norm1", d);
    b.ffn(p, d, cfg.dim_ff);
    b.norm(p + ".norm2", d);
  }
  for (int64_t i = 0; i < cfg.dec_layers; ++i) {
    const std::string p = "transformer.decoder.layers." + std::to_string(i);
    b.ms_deform_attn(p + ".cross_attn", d, cfg.nheads, levels, cfg.dec_points);
    b.norm(p + ".norm1", d);
    b.xavier(p + ".self_attn.in_proj_weight", {3 * d, d});
    b.constant(p + ".self_attn.in_proj_bias", {3 * d}, 0.0);
    b.xavier(p + ".self_attn.out_proj.weight", {d, d});
    b.constant(p + ".self_attn.out_proj.bias", {d}, 0.0);
    b.norm(p + ".norm2", d);
    b.ffn(p, d, cfg.dim_ff);
    b.norm(p + ".norm3", d);
  }
  const double prior_bias = -std::log((1.0 - 0.01) / 0.01);
  const double head_bound = 1.0 / std::sqrt(static_cast<double>(d));
  if (cfg.two_stage) {
    // Proposal head on the encoder output, and the proposals' embedding
    // into (query_pos, tgt). Matrices xavier like the reference's reset.
    b.xavier("transformer.enc_output.weight", {d, d});
    b.uniform("transformer.enc_output.bias", {d}, head_bound);
    b.norm("transformer.enc_output_norm", d);
    b.xavier("transformer.pos_trans.weight", {2 * d, 2 * d});
    b.uniform("transformer.pos_trans.bias", {2 * d}, 1.0 / std::sqrt(2.0 * static_cast<double>(d)));
    b.norm("transformer.pos_trans_norm", 2 * d);
    b.uniform("enc_class_embed.weight", {cfg.num_classes, d}, head_bound);
    b.constant("enc_class_embed.bias", {cfg.num_classes}, prior_bias);
    b.torch_linear("enc_bbox_embed.layers.0", d, d);
    b.torch_linear("enc_bbox_embed.layers.1", d, d);
    // Zero: a token's first box is its proposal.
    b.constant("enc_bbox_embed.layers.2.weight", {4, d}, 0.0);
    b.constant("enc_bbox_embed.layers.2.bias", {4}, 0.0);
  } else {
    b.xavier("transformer.reference_points.weight", {2, d});
    b.constant("transformer.reference_points.bias", {2}, 0.0);
    b.normal("query_embed.weight", {cfg.num_queries, 2 * d});
  }

  b.uniform("class_embed.weight", {cfg.num_classes, d}, head_bound);
  b.constant("class_embed.bias", {cfg.num_classes}, prior_bias);
  b.torch_linear("bbox_embed.layers.0", d, d);
  b.torch_linear("bbox_embed.layers.1", d, d);
  b.constant("bbox_embed.layers.2.weight", {4, d}, 0.0);
  // Single-stage boxes start small around their reference point; two-stage
  // ones start at their proposal.
  const float wh_bias = cfg.two_stage ? 0.0f : -2.0f;
  b.items.emplace_back("bbox_embed.layers.2.bias",
                       astype(array({0.0f, 0.0f, wh_bias, wh_bias}, {4}, float32), dtype));
  return Tree::from_flat(b.items);
}

int64_t count_parameters(const Tree& params) {
  int64_t n = 0;
  for (const array& a : params.leaves()) n += a.size();
  return n;
}

}  // namespace mfx::detr
