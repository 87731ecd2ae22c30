// The ground-truth probe of the match-free criterion: two small MLPs embed
// ground truths and queries, and a scaled dot-product attention over queries
// says which queries each ground truth would pick. The variants of the
// logits and the attention (extensions beyond the paper) are in
// probe_variants.cpp.
#include <cmath>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"
#include "mfx/linalg.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::criteria {
namespace {

// torch.nn.Linear's default init: weight and bias uniform in +-1/sqrt(fan_in).
Tree linear(const array& key, int64_t in, int64_t out, Dtype dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  return Tree{{"weight", random::uniform(random::fold_in(key, 0), {out, in}, -bound, bound, dtype)},
              {"bias", random::uniform(random::fold_in(key, 1), {out}, -bound, bound, dtype)}};
}

array apply_linear(const Tree& p, const array& x) {
  return matmul(x, transpose(p["weight"].leaf())) + p["bias"].leaf();
}

array mlp(const Tree& layers, const array& x) {
  return apply_linear(layers[1], relu(apply_linear(layers[0], x)));
}

void check_probe(const std::string& fn, const Tree& probe, int64_t gt_in, int64_t q_in) {
  for (const char* path :
       {"mlp_gt.0.weight", "mlp_gt.0.bias", "mlp_gt.1.weight", "mlp_gt.1.bias", "mlp_q.0.weight",
        "mlp_q.0.bias", "mlp_q.1.weight", "mlp_q.1.bias", "w_q", "w_k"}) {
    if (!probe.contains(path)) {
      detail::fail(fn, std::string("probe has no parameter '") + path + "' (structure " +
                           probe.structure_str() + ")");
    }
  }
  const array& w_q = probe.at("w_q");
  if (w_q.ndim() != 2) detail::fail(fn, "probe w_q must be 2-d, got " + shape_str(w_q.shape()));
  const int64_t width = w_q.shape(0);
  auto expect = [&](const char* path, const Shape& shape) {
    const array& a = probe.at(path);
    if (a.shape() != shape) {
      detail::fail(fn, std::string("probe ") + path + " has shape " + shape_str(a.shape()) +
                           ", expected " + shape_str(shape) + " (width " + std::to_string(width) +
                           ")");
    }
  };
  expect("mlp_gt.0.weight", {width, gt_in});
  expect("mlp_gt.0.bias", {width});
  expect("mlp_gt.1.weight", {width, width});
  expect("mlp_gt.1.bias", {width});
  expect("mlp_q.0.weight", {width, q_in});
  expect("mlp_q.0.bias", {width});
  expect("mlp_q.1.weight", {width, width});
  expect("mlp_q.1.bias", {width});
  expect("w_q", {width, width});
  expect("w_k", {width, width});
}

}  // namespace

Tree init_probe(const array& key, int64_t num_classes, int64_t hidden_dim, int64_t width,
                Dtype dtype) {
  if (num_classes <= 0 || hidden_dim <= 0 || width <= 0) {
    detail::fail("init_probe", "num_classes, hidden_dim and width must be positive, got " +
                                   std::to_string(num_classes) + ", " + std::to_string(hidden_dim) +
                                   ", " + std::to_string(width));
  }
  if (!is_floating(dtype)) {
    detail::fail("init_probe", "dtype must be floating, got " + std::string(dtype_name(dtype)));
  }
  auto k = [&](uint64_t i) { return random::fold_in(key, i); };
  const double bound = 1.0 / std::sqrt(static_cast<double>(width));
  Tree probe{
      {"mlp_gt", Tree(Tree::List{linear(k(0), num_classes + 4, width, dtype),
                                 linear(k(1), width, width, dtype)})},
      {"mlp_q", Tree(Tree::List{linear(k(2), hidden_dim + 4 + num_classes, width, dtype),
                                linear(k(3), width, width, dtype)})},
      {"w_q", random::uniform(k(4), {width, width}, -bound, bound, dtype)},
      {"w_k", random::uniform(k(5), {width, width}, -bound, bound, dtype)},
  };
  eval(probe);
  return probe;
}

namespace detail {

ProbeKeys probe_keys(const std::string& fn, const Tree& probe, const Targets& s, int64_t K,
                     int64_t D) {
  check_probe(fn, probe, K + 4, D + 4 + K);
  const array& w_q = probe.at("w_q");
  const Dtype dt = w_q.dtype();
  const double scale = 1.0 / std::sqrt(static_cast<double>(w_q.shape(0)));
  const int64_t B = s.labels.shape(0), M = s.labels.shape(1), W = w_q.shape(0);
  // All images' ground truths as rows of one matrix: every weight gradient
  // is then one product, not one per image summed over the batch.
  array gt_in =
      reshape(concatenate({one_hot(s.labels, K, dt), astype(s.boxes, dt)}, -1), {B * M, K + 4});
  array e_gt = matmul(mlp(probe["mlp_gt"], gt_in), w_q);  // [B*M, W]
  // Keys of the query side's last two linear maps (MLP_q's second layer, W_K)
  // moved to the ground truths: h = E_gt W_Q W_K^T. The 1/sqrt(W) scale is
  // applied to the scores, inside the softmax's kernel.
  array h = matmul(e_gt, transpose(probe.at("w_k")));
  const Tree& q1 = probe["mlp_q"][1];
  array b1 = q1["bias"].leaf();
  return ProbeKeys{reshape(matmul(h, q1["weight"].leaf()), {B, M, W}),
                   reshape(matmul(h, reshape(b1, {W, 1})), {B, M, 1}), scale,
                   reshape(e_gt, {B, M, W})};
}

array probe_query_features(const Tree& probe, const ProbeKeys& keys, const array& logits,
                           const array& boxes, const array& hidden, bool stop_inputs) {
  const Dtype dt = keys.proj.dtype();
  const int64_t B = logits.shape(0), N = logits.shape(1);
  array q_in = concatenate({astype(hidden, dt), astype(boxes, dt), astype(sigmoid(logits), dt)},
                           -1);  // [B, N, D+4+K]
  if (stop_inputs) q_in = stop_gradient(q_in);
  // One [B*N, D+4+K] x [D+4+K, W] product (the weight gradient is then one
  // product too, not one per image summed).
  array u = relu(apply_linear(probe["mlp_q"][0], reshape(q_in, {B * N, q_in.shape(2)})));
  return reshape(u, {B, N, u.shape(1)});  // [B, N, W]
}

array probe_scores(const Tree& probe, const ProbeKeys& keys, const array& u,
                   const MatchFreeConfig& cfg) {
  if (cfg.probe_logits == MatchFreeConfig::ProbeLogits::Cosine) {
    return cosine_scores(probe, keys, u, cfg.cosine_scale);
  }
  // The logits as the transpose of u proj^T [B, N, M]: u's gradient then
  // comes out row-major and flows into the first layer without a copy.
  return (swapaxes(matmul(u, swapaxes(keys.proj, 1, 2)), 1, 2) + keys.bias) * keys.scale;
}

ProbeAttention probe_attention_with(const Tree& probe, const ProbeKeys& keys, const array& logits,
                                    const array& boxes, const array& hidden, const array& mask,
                                    const MatchFreeConfig& cfg) {
  array u =
      probe_query_features(probe, keys, logits, boxes, hidden, cfg.probe_inputs_stop_gradient);
  return attention_from_scores(probe_scores(probe, keys, u, cfg), mask, cfg);
}

}  // namespace detail

namespace {

// The checks and keys shared by probe_logits and probe_attention.
struct ProbeLayer {
  Targets s;
  detail::ProbeKeys keys;
  array u;
};

ProbeLayer probe_layer(const std::string& fn, const Tree& probe, const array& logits,
                       const array& boxes, const array& hidden, const Targets& t,
                       const MatchFreeConfig& cfg) {
  detail::check_layer(fn, logits, boxes, t);
  detail::check_floating(fn, "hidden", hidden, 3);
  if (hidden.shape(0) != logits.shape(0) || hidden.shape(1) != logits.shape(1)) {
    detail::fail(fn, "hidden " + shape_str(hidden.shape()) + " does not match logits " +
                         shape_str(logits.shape()));
  }
  validate_matchfree_config(cfg, fn);
  ProbeLayer p{detail::sanitize(t), {}, {}};
  p.keys = detail::probe_keys(fn, probe, p.s, logits.shape(2), hidden.shape(2));
  p.u = detail::probe_query_features(probe, p.keys, logits, boxes, hidden,
                                     cfg.probe_inputs_stop_gradient);
  return p;
}

}  // namespace

array probe_logits(const Tree& probe, const array& logits, const array& boxes, const array& hidden,
                   const Targets& t, const MatchFreeConfig& cfg) {
  ProbeLayer p = probe_layer("probe_logits", probe, logits, boxes, hidden, t, cfg);
  return detail::probe_scores(probe, p.keys, p.u, cfg);
}

array probe_attention(const Tree& probe, const array& logits, const array& boxes,
                      const array& hidden, const Targets& t, const MatchFreeConfig& cfg) {
  ProbeLayer p = probe_layer("probe_attention", probe, logits, boxes, hidden, t, cfg);
  return detail::attention_from_scores(detail::probe_scores(probe, p.keys, p.u, cfg), p.s.mask, cfg)
      .attention;
}

array probe_attention(const Tree& probe, const array& logits, const array& boxes,
                      const array& hidden, const Targets& t, bool stop_inputs) {
  MatchFreeConfig cfg;
  cfg.probe_inputs_stop_gradient = stop_inputs;
  return probe_attention(probe, logits, boxes, hidden, t, cfg);
}

}  // namespace mfx::criteria
