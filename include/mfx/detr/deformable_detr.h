// Deformable DETR (Zhu et al., single-scale queries, no box refinement, no
// two-stage) as pure functions of a parameter Tree.
//
// Parameter paths equal the PyTorch state_dict names of the reference
// implementation (fundamentalvision/Deformable-DETR), except that the class
// and box heads, shared across decoder layers, are stored once:
//   input_proj.{l}.0.weight/bias (conv), input_proj.{l}.1.weight/bias (GN),
//   transformer.level_embed, transformer.reference_points.weight/bias,
//   transformer.encoder.layers.{i}.self_attn.{sampling_offsets,
//     attention_weights,value_proj,output_proj}.weight/bias,
//   transformer.encoder.layers.{i}.{linear1,linear2,norm1,norm2}.weight/bias,
//   transformer.decoder.layers.{i}.cross_attn.* (as self_attn above),
//   transformer.decoder.layers.{i}.self_attn.{in_proj_weight,in_proj_bias,
//     out_proj.weight,out_proj.bias} (torch.nn.MultiheadAttention),
//   transformer.decoder.layers.{i}.{linear1,linear2,norm1,norm2,norm3}.*,
//   query_embed.weight, class_embed.weight/bias, bbox_embed.layers.{0,1,2}.*.
// Linear weights are [out, in] like torch. Backbone features come in as
// arrays (the backbone lives elsewhere). Errors are std::invalid_argument
// whose message starts with "[function]" and names the offending shapes.
#pragma once

#include <cstdint>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mfx/array.h"
#include "mfx/criteria/criteria.h"
#include "mfx/tree.h"

namespace mfx::detr {

/// (H_l, W_l) of every feature level, in level order.
using SpatialShapes = std::vector<std::pair<int64_t, int64_t>>;

struct DeformableDetrConfig {
  int64_t d_model = 256;
  int64_t nheads = 8;
  int64_t enc_layers = 6;
  int64_t dec_layers = 6;
  int64_t dim_ff = 1024;
  double dropout = 0.1;
  int64_t num_queries = 300;
  /// Backbone levels plus extra stride-2 levels (>= backbone_channels.size()).
  int64_t num_feature_levels = 4;
  int64_t enc_points = 4;
  int64_t dec_points = 4;
  /// Sigmoid classes (no background class); 91 COCO category slots.
  int64_t num_classes = 91;
  /// Channels and strides of the backbone levels fed to the model (C3-C5 of
  /// ResNet-50 by default).
  std::vector<int64_t> backbone_channels{512, 1024, 2048};
  std::vector<int64_t> backbone_strides{8, 16, 32};
  /// Groups of the input projections' GroupNorm (the reference uses 32).
  int64_t gn_groups = 32;
  /// Two-stage queries (Deformable DETR's two-stage variant, an extension
  /// beyond the plain model): every encoder token proposes a box and class
  /// scores, the num_queries best-scoring tokens become the decoder's queries
  /// (their boxes the references, their sine embeddings query_pos and
  /// tgt), so the queries start where the image has objects. The decoder
  /// samples around the proposals' centres (2-d references, no box
  /// refinement). Needs d_model divisible by 4; the dense proposals are
  /// trained by criteria::encoder_proposal_loss.
  bool two_stage = false;

  /// A configuration that trains on a CPU: d_model 64, 4 heads, 2 encoder +
  /// 2 decoder layers, FFN 256, 100 queries, 3 levels (the C3-C5 channels
  /// of ResNet-18: 128/256/512, no extra level), 4 points, 91 classes.
  static DeformableDetrConfig small();

  /// Throws std::invalid_argument ("[DeformableDetrConfig] ...") when a size
  /// is not positive, nheads does not divide d_model, gn_groups does not
  /// divide d_model, dropout is outside [0, 1), the channel and stride lists
  /// differ in length or are empty, or num_feature_levels is smaller than
  /// the number of backbone levels, or two_stage is set with d_model not a
  /// multiple of 4.
  void validate() const;
};

/// Random parameters with the reference's init (deterministic in `key`;
/// each leaf draws from random::fold_in(key, FNV-1a hash of its path)):
///  - input projections: conv weight xavier-uniform, conv bias 0, GN 1 / 0;
///  - every matrix of the transformer xavier-uniform (FFN linear1/linear2,
///    self-attention in_proj_weight / out_proj.weight, reference_points),
///    FFN biases torch.nn.Linear's default U(+-1/sqrt(fan_in)),
///    in_proj_bias, out_proj.bias and reference_points.bias 0, LayerNorm 1 / 0;
///  - MSDeformAttn: sampling_offsets weight 0 and bias = head h's direction
///    (cos, sin)(2 pi h / nheads) divided by its largest |component|, times
///    (p + 1) for point p, the same for every level; attention_weights weight
///    and bias 0; value_proj and output_proj weights xavier-uniform, biases 0;
///  - level_embed and query_embed.weight ([num_queries, 2 d_model]) N(0, 1);
///  - class_embed: weight U(+-1/sqrt(d_model)), bias -log((1 - 0.01) / 0.01);
///  - bbox_embed: layers 0 and 1 torch's Linear default, layer 2 weight 0 and
///    bias (0, 0, -2, -2);
///  - two_stage: no query_embed or reference_points; instead enc_output
///    [d, d] and pos_trans [2d, 2d] (xavier weights, default biases, each
///    followed by a LayerNorm), enc_class_embed like class_embed and
///    enc_bbox_embed like bbox_embed with a zero last layer (a token's
///    first box is its proposal); bbox_embed's last bias is 0 (a query's
///    first box is its proposal).
/// `dtype` must be floating. Arrays are lazy.
Tree init_deformable_detr(const array& key, const DeformableDetrConfig& cfg, Dtype dtype = float32);

/// Number of scalars in all leaves of `params` (every parameter of this model
/// is trainable). For the COCO configuration (the defaults) the model built
/// here has 16,614,753 parameters (input projections, transformer, heads);
/// with the 23,232,512 trainable weights of ResNet-50 (stem and layer1
/// frozen) the detector has the reference's 39,847,265.
int64_t count_parameters(const Tree& params);

/// Sine position encoding of a padding mask [B, H, W] (bool, true = padded)
/// -> float32 [B, 2 num_pos_feats, H, W] (PositionEmbeddingSine of
/// Deformable DETR): with e_y, e_x the cumulative sums of the valid pixels
/// along H and W, normalised (when `normalize`) as
/// (e - 0.5) / (e_last + 1e-6) * scale, and dim_t[i] = T^(2 floor(i/2) / F),
/// channel 2k of each half is sin(e / dim_t[2k]) and 2k+1 is
/// cos(e / dim_t[2k+1]); the y half comes first. num_pos_feats must be even.
array position_embedding_sine(const array& mask, int64_t num_pos_feats = 128,
                              double temperature = 10000.0, bool normalize = true,
                              double scale = 2.0 * std::numbers::pi);

/// A padding mask [B, H, W] (bool) resized to (h, w) with nearest
/// interpolation (F.interpolate(mask.float(), size).bool()).
array downsample_mask(const array& mask, int64_t h, int64_t w);

/// valid_ratios[B, L, 2] = (valid width / W_l, valid height / H_l) per level,
/// the valid sizes being the non-padded count of the first column (height)
/// and first row (width), like the reference's get_valid_ratio. Output dtype
/// `dtype`.
array valid_ratios(const std::vector<array>& masks, Dtype dtype = float32);

/// Reference points of the encoder [B, S, L, 2]: the (x, y) centres
/// ((j + 0.5) / (r_w W_l), (i + 0.5) / (r_h H_l)) of every pixel of every
/// level (S = sum H_l W_l, levels flattened row-major), multiplied by the
/// valid ratios of each level (valid_ratios [B, L, 2]).
array encoder_reference_points(const SpatialShapes& shapes, const array& valid_ratios);

/// Multi-scale deformable attention module (MSDeformAttn) with parameters
/// under `prefix` ("...self_attn" or "...cross_attn": value_proj,
/// sampling_offsets, attention_weights, output_proj). query [B, Q, d],
/// reference_points [B, Q, L, 2] (x, y in [0, 1]) or [B, Q, L, 4] (cx, cy,
/// w, h), input_flatten [B, S, d] (levels of `shapes` flattened and
/// concatenated), padding_mask [B, S] bool (true: the value is zeroed).
/// Sampling locations are ref + offset / (W_l, H_l) for 2-d references and
/// ref_xy + offset / P * ref_wh * 0.5 for boxes; attention weights are a
/// softmax over levels x points per head. The number of points follows from
/// the sampling_offsets shape. Returns [B, Q, d].
array ms_deform_attn_module(const Tree& params, const std::string& prefix, const array& query,
                            const array& reference_points, const array& input_flatten,
                            const SpatialShapes& shapes, const std::optional<array>& padding_mask,
                            int64_t nheads);

/// torch.nn.MultiheadAttention (batch first here: [B, N, d]) with
/// parameters under `prefix` (in_proj_weight [3d, d], in_proj_bias [3d],
/// out_proj.weight/bias): softmax(q k^T / sqrt(d / nheads)) v per head, with
/// dropout p on the attention weights when `train` (key required then).
array multihead_attention(const Tree& params, const std::string& prefix, const array& query,
                          const array& key_in, const array& value, int64_t nheads, double dropout,
                          bool train, const std::optional<array>& key);

/// One post-norm encoder layer under `prefix`:
/// x = norm1(src + drop(MSDeformAttn(src + pos, ref, src))),
/// out = norm2(x + drop(linear2(drop(relu(linear1(x)))))).
array encoder_layer(const Tree& params, const std::string& prefix, const array& src,
                    const array& pos, const array& reference_points, const SpatialShapes& shapes,
                    const std::optional<array>& padding_mask, const DeformableDetrConfig& cfg,
                    bool train, const std::optional<array>& key);

/// One post-norm decoder layer under `prefix`:
/// t = norm2(tgt + drop(MHA(q = k = tgt + query_pos, v = tgt))),
/// t = norm1(t + drop(MSDeformAttn(t + query_pos, ref, memory))),
/// out = norm3(t + drop(FFN(t))).
array decoder_layer(const Tree& params, const std::string& prefix, const array& tgt,
                    const array& query_pos, const array& reference_points, const array& memory,
                    const SpatialShapes& shapes, const std::optional<array>& padding_mask,
                    const DeformableDetrConfig& cfg, bool train, const std::optional<array>& key);

/// The detector on backbone features: features[l] is [B, C_l, H_l, W_l] with
/// C_l = cfg.backbone_channels[l] (one per backbone level), `mask` [B, H, W]
/// bool the full-resolution padding mask (true = padding), downsampled with
/// nearest interpolation to every level. Extra levels apply their stride-2
/// conv to the raw last feature, then to the previous projection. Returns
/// every decoder layer's logits [B, Q, K], boxes [B, Q, 4] (cxcywh, sigmoid of
/// the box MLP plus [inverse_sigmoid(ref), 0, 0]) and hidden states
/// [B, Q, d]. `train` turns dropout on and then needs `key`; eval is
/// deterministic. Computes in the dtype of the parameters (features are cast
/// to it).
criteria::DecoderOutputs deformable_detr_forward(const Tree& params,
                                                 const std::vector<array>& features,
                                                 const array& mask, const DeformableDetrConfig& cfg,
                                                 bool train = false,
                                                 const std::optional<array>& key = std::nullopt);

/// Detections per image.
struct Detections {
  array scores;  ///< [B, k] sigmoid probabilities, descending
  array labels;  ///< [B, k] int32 class index in [0, K)
  array boxes;   ///< [B, k, 4] (x0, y0, x1, y1) in pixels
};

/// The reference PostProcess on one layer's outputs (logits [B, N, K],
/// boxes [B, N, 4] cxcywh normalised): top-k of sigmoid(logits) over all
/// queries x classes (k = min(num_select, N K); ties keep the lower flat
/// index), label = index % K, query = index / K, boxes converted to xyxy and
/// scaled by (w, h, w, h) of target_sizes [B, 2] = (h, w) per image.
Detections post_process(const array& logits, const array& boxes, const array& target_sizes,
                        int64_t num_select = 100);

}  // namespace mfx::detr
