// The full detector on backbone features: input projections, encoder,
// decoder and the shared class / box heads on every decoder layer.
#include <string>
#include <vector>

#include "detr/detr_common.h"
#include "detr/two_stage.h"
#include "mfx/nn.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

const char* kFn = "deformable_detr_forward";

// Conv (1x1, or 3x3 stride 2 for extra levels) + bias + GroupNorm.
array input_proj(const Tree& params, int64_t level, const array& x, bool extra,
                 const DeformableDetrConfig& cfg) {
  const std::string p = "input_proj." + std::to_string(level);
  const int64_t ks = extra ? 3 : 1;
  const array& w =
      detail::param(kFn, params, p + ".0.weight", Shape{cfg.d_model, x.shape(1), ks, ks});
  const array& b = detail::param(kFn, params, p + ".0.bias", Shape{cfg.d_model});
  array y = extra ? conv2d(x, w, {2, 2}, {1, 1}) : conv2d(x, w);
  y = y + reshape(b, {1, cfg.d_model, 1, 1});
  const Shape c{cfg.d_model};
  return group_norm(y, static_cast<int>(cfg.gn_groups),
                    detail::param(kFn, params, p + ".1.weight", c),
                    detail::param(kFn, params, p + ".1.bias", c), 1e-5);
}

// [B, C, H, W] -> [B, H W, C].
array flatten_level(const array& x) {
  return transpose(reshape(x, {x.shape(0), x.shape(1), x.shape(2) * x.shape(3)}), {0, 2, 1});
}

void check_inputs(const std::vector<array>& features, const array& mask,
                  const DeformableDetrConfig& cfg) {
  const size_t n = cfg.backbone_channels.size();
  if (features.size() != n) {
    detail::fail(kFn, "expected " + std::to_string(n) +
                          " feature levels (cfg.backbone_channels), got " +
                          std::to_string(features.size()));
  }
  if (!mask.valid() || mask.ndim() != 3 || mask.dtype() != bool_) {
    detail::fail(kFn, "mask must be bool [B, H, W], got " +
                          (mask.valid() ? shape_str(mask.shape()) : std::string("none")));
  }
  for (size_t l = 0; l < n; ++l) {
    const array& f = features[l];
    if (!f.valid() || f.ndim() != 4 || f.shape(0) != mask.shape(0) ||
        f.shape(1) != cfg.backbone_channels[l] || !is_floating(f.dtype())) {
      detail::fail(kFn, "feature level " + std::to_string(l) + " must be floating [" +
                            std::to_string(mask.shape(0)) + ", " +
                            std::to_string(cfg.backbone_channels[l]) + ", H, W], got " +
                            (f.valid() ? shape_str(f.shape()) : std::string("none")));
    }
  }
}

}  // namespace

criteria::DecoderOutputs deformable_detr_forward(const Tree& params,
                                                 const std::vector<array>& features,
                                                 const array& mask, const DeformableDetrConfig& cfg,
                                                 bool train, const std::optional<array>& key) {
  cfg.validate();
  check_inputs(features, mask, cfg);
  detail::check_key(kFn, train, key);
  const int64_t d = cfg.d_model, levels = cfg.num_feature_levels, b = mask.shape(0);
  const int64_t n_backbone = static_cast<int64_t>(features.size());
  const array& level_embed =
      detail::param(kFn, params, "transformer.level_embed", Shape{levels, d});
  const Dtype dtype = level_embed.dtype();

  // Per level: projected source, padding mask and position + level embedding.
  std::vector<array> srcs, masks, src_flat, mask_flat, pos_flat;
  SpatialShapes shapes;
  for (int64_t l = 0; l < levels; ++l) {
    array src;
    if (l < n_backbone) {
      src = input_proj(params, l, astype(features[l], dtype), false, cfg);
    } else {
      const array in = l == n_backbone ? astype(features.back(), dtype) : srcs.back();
      src = input_proj(params, l, in, true, cfg);
    }
    const int64_t h = src.shape(2), w = src.shape(3);
    const array m = downsample_mask(mask, h, w);
    const array pos = astype(position_embedding_sine(m, d / 2), dtype);
    srcs.push_back(src);
    masks.push_back(m);
    shapes.emplace_back(h, w);
    src_flat.push_back(flatten_level(src));
    mask_flat.push_back(reshape(m, {b, h * w}));
    pos_flat.push_back(flatten_level(pos) + slice_axis(level_embed, 0, l, l + 1));
  }
  const array src = concatenate(src_flat, 1);
  const array padding = concatenate(mask_flat, 1);
  const array pos = concatenate(pos_flat, 1);
  const array ratios = valid_ratios(masks, dtype);

  auto layer_key = [&](uint64_t id) {
    return train ? std::optional<array>(random::fold_in(*key, id)) : std::nullopt;
  };
  const array enc_ref = encoder_reference_points(shapes, ratios);
  array memory = src;
  for (int64_t i = 0; i < cfg.enc_layers; ++i) {
    memory = encoder_layer(params, "transformer.encoder.layers." + std::to_string(i), memory, pos,
                           enc_ref, shapes, padding, cfg, train, layer_key(1000 + i));
  }

  criteria::DecoderOutputs out;
  array query_pos, tgt, ref, ref_offset;
  if (cfg.two_stage) {
    auto ts = detail::two_stage_queries(params, memory, padding, shapes, ratios, enc_ref, cfg);
    query_pos = ts.query_pos;
    tgt = ts.tgt;
    ref = sigmoid(slice_axis(ts.reference, 2, 0, 2));
    // Every layer predicts relative to the selected proposal box.
    ref_offset = ts.reference;
    out.encoder = ts.proposals;
  } else {
    // query_embed = [query_pos | tgt], shared by the batch.
    const array& query_embed =
        detail::param(kFn, params, "query_embed.weight", Shape{cfg.num_queries, 2 * d});
    query_pos = broadcast_to(slice_axis(query_embed, 1, 0, d), {b, cfg.num_queries, d});
    tgt = broadcast_to(slice_axis(query_embed, 1, d, 2 * d), {b, cfg.num_queries, d});
    ref = sigmoid(detail::linear(kFn, params, "transformer.reference_points", query_pos));
    // Without box refinement every layer predicts relative to the same reference.
    ref_offset = concatenate({detail::inverse_sigmoid(ref), zeros({b, cfg.num_queries, 2}, dtype)},
                             -1);
  }
  const array dec_ref = expand_dims(ref, 2) * expand_dims(ratios, 1);  // [B, Q, L, 2]

  array h = tgt;
  for (int64_t i = 0; i < cfg.dec_layers; ++i) {
    h = decoder_layer(params, "transformer.decoder.layers." + std::to_string(i), h, query_pos,
                      dec_ref, memory, shapes, padding, cfg, train, layer_key(2000 + i));
    out.hidden.push_back(h);
    out.logits.push_back(detail::linear(kFn, params, "class_embed", h));
    array box = relu(detail::linear(kFn, params, "bbox_embed.layers.0", h));
    box = relu(detail::linear(kFn, params, "bbox_embed.layers.1", box));
    box = detail::linear(kFn, params, "bbox_embed.layers.2", box);
    out.boxes.push_back(sigmoid(box + ref_offset));
  }
  return out;
}

}  // namespace mfx::detr
