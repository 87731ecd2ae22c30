// The ground-truth probe of the match-free criterion: two small MLPs embed
// ground truths and queries, and a scaled dot-product attention over queries
// says which queries each ground truth would pick.
#include <cmath>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/detr/criteria.h"
#include "mfx/linalg.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
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

array probe_attention(const Tree& probe, const array& logits, const array& boxes,
                      const array& hidden, const Targets& t, bool stop_inputs) {
  const std::string fn = "probe_attention";
  detail::check_layer(fn, logits, boxes, t);
  detail::check_floating(fn, "hidden", hidden, 3);
  if (hidden.shape(0) != logits.shape(0) || hidden.shape(1) != logits.shape(1)) {
    detail::fail(fn, "hidden " + shape_str(hidden.shape()) + " does not match logits " +
                         shape_str(logits.shape()));
  }
  const int64_t K = logits.shape(2);
  check_probe(fn, probe, K + 4, hidden.shape(2) + 4 + K);
  const Targets s = detail::sanitize(t);
  const Dtype dt = probe.at("w_q").dtype();

  array gt_in = concatenate({one_hot(s.labels, K, dt), astype(s.boxes, dt)}, -1);  // [B, M, K+4]
  array q_in = concatenate({astype(hidden, dt), astype(boxes, dt), astype(sigmoid(logits), dt)},
                           -1);  // [B, N, D+4+K]
  if (stop_inputs) q_in = stop_gradient(q_in);
  array e_gt = matmul(mlp(probe["mlp_gt"], gt_in), probe["w_q"].leaf());  // [B, M, W]
  array e_q = matmul(mlp(probe["mlp_q"], q_in), probe["w_k"].leaf());     // [B, N, W]
  const double scale = 1.0 / std::sqrt(static_cast<double>(probe.at("w_q").shape(0)));
  array a = softmax(matmul(e_gt, swapaxes(e_q, 1, 2)) * scale, -1);  // [B, M, N]
  return where(expand_dims(s.mask, -1), a, zeros({}, a.dtype()));
}

}  // namespace mfx::detr
