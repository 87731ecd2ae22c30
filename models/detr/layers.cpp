// Post-norm encoder and decoder layers of the deformable transformer.
#include <string>

#include "detr/detr_common.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

// linear2(drop(relu(linear1(x)))) with the dropout at `site`.
array ffn(const std::string& fn, const Tree& params, const std::string& prefix, const array& x,
          double p, bool train, const std::optional<array>& key, uint64_t site) {
  const array h = relu(detail::linear(fn, params, detail::join(prefix, "linear1"), x));
  return detail::linear(fn, params, detail::join(prefix, "linear2"),
                        detail::drop(h, p, train, key, site));
}

}  // namespace

array encoder_layer(const Tree& params, const std::string& prefix, const array& src,
                    const array& pos, const array& reference_points, const SpatialShapes& shapes,
                    const std::optional<array>& padding_mask, const DeformableDetrConfig& cfg,
                    bool train, const std::optional<array>& key) {
  const std::string fn = "encoder_layer";
  using detail::join;
  detail::check_key(fn, train, key);
  if (pos.shape() != src.shape()) {
    detail::fail(fn,
                 "pos " + shape_str(pos.shape()) + " does not match src " + shape_str(src.shape()));
  }
  const double p = cfg.dropout;
  const array attn = ms_deform_attn_module(params, join(prefix, "self_attn"), src + pos,
                                           reference_points, src, shapes, padding_mask, cfg.nheads);
  array x = detail::layer_norm(fn, params, join(prefix, "norm1"),
                               src + detail::drop(attn, p, train, key, 1));
  const array y = ffn(fn, params, prefix, x, p, train, key, 2);
  return detail::layer_norm(fn, params, join(prefix, "norm2"),
                            x + detail::drop(y, p, train, key, 3));
}

array decoder_layer(const Tree& params, const std::string& prefix, const array& tgt,
                    const array& query_pos, const array& reference_points, const array& memory,
                    const SpatialShapes& shapes, const std::optional<array>& padding_mask,
                    const DeformableDetrConfig& cfg, bool train, const std::optional<array>& key) {
  const std::string fn = "decoder_layer";
  using detail::join;
  detail::check_key(fn, train, key);
  if (query_pos.shape() != tgt.shape()) {
    detail::fail(fn, "query_pos " + shape_str(query_pos.shape()) + " does not match tgt " +
                         shape_str(tgt.shape()));
  }
  const double p = cfg.dropout;
  const std::optional<array> attn_key =
      train ? std::optional<array>(random::fold_in(*key, 10)) : std::nullopt;
  const array qk = tgt + query_pos;
  const array self = multihead_attention(params, join(prefix, "self_attn"), qk, qk, tgt, cfg.nheads,
                                         p, train, attn_key);
  array t = detail::layer_norm(fn, params, join(prefix, "norm2"),
                               tgt + detail::drop(self, p, train, key, 2));
  const array cross =
      ms_deform_attn_module(params, join(prefix, "cross_attn"), t + query_pos, reference_points,
                            memory, shapes, padding_mask, cfg.nheads);
  t = detail::layer_norm(fn, params, join(prefix, "norm1"),
                         t + detail::drop(cross, p, train, key, 1));
  const array y = ffn(fn, params, prefix, t, p, train, key, 3);
  return detail::layer_norm(fn, params, join(prefix, "norm3"),
                            t + detail::drop(y, p, train, key, 4));
}

}  // namespace mfx::detr
