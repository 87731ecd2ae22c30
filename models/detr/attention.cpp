// torch.nn.MultiheadAttention (the decoder's self-attention), batch first.
#include <cmath>
#include <string>

#include "detr/detr_common.h"
#include "mfx/linalg.h"
#include "mfx/ops.h"

namespace mfx::detr {

array multihead_attention(const Tree& params, const std::string& prefix, const array& query,
                          const array& key_in, const array& value, int64_t nheads, double dropout_p,
                          bool train, const std::optional<array>& key) {
  const std::string fn = "multihead_attention";
  using detail::join;
  detail::check_key(fn, train, key);
  if (query.ndim() != 3 || key_in.ndim() != 3 || value.ndim() != 3 ||
      key_in.shape() != value.shape() || query.shape(0) != key_in.shape(0) ||
      query.shape(2) != key_in.shape(2)) {
    detail::fail(fn,
                 "query [B, N, d], key and value [B, M, d] disagree: " + shape_str(query.shape()) +
                     ", " + shape_str(key_in.shape()) + ", " + shape_str(value.shape()));
  }
  const int64_t b = query.shape(0), n = query.shape(1), m = key_in.shape(1), d = query.shape(2);
  if (nheads <= 0 || d % nheads != 0) {
    detail::fail(fn,
                 "nheads " + std::to_string(nheads) + " does not divide d " + std::to_string(d));
  }
  const int64_t dh = d / nheads;
  const array& w = detail::param(fn, params, join(prefix, "in_proj_weight"), Shape{3 * d, d});
  const array& bias = detail::param(fn, params, join(prefix, "in_proj_bias"), Shape{3 * d});
  auto project = [&](const array& x, int part, int64_t len) {
    const array wp = slice_axis(w, 0, part * d, (part + 1) * d);
    const array bp = slice_axis(bias, 0, part * d, (part + 1) * d);
    const array y = matmul(x, transpose(wp)) + bp;
    return transpose(reshape(y, {b, len, nheads, dh}), {0, 2, 1, 3});  // [B, H, len, Dh]
  };
  // Like torch, q is scaled before the product.
  const array q = project(query, 0, n) * (1.0 / std::sqrt(static_cast<double>(dh)));
  const array k = project(key_in, 1, m);
  const array v = project(value, 2, m);
  array attn = softmax(matmul(q, swapaxes(k, -1, -2)), -1);  // [B, H, N, M]
  attn = detail::drop(attn, dropout_p, train, key, 0);
  const array out = reshape(transpose(matmul(attn, v), {0, 2, 1, 3}), {b, n, d});
  return detail::linear(fn, params, join(prefix, "out_proj"), out);
}

}  // namespace mfx::detr
