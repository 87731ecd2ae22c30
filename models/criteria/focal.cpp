// Sigmoid focal loss terms, computed from logits with softplus so that large
// |z| neither overflows nor loses the loss of confident mistakes.
#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"
#include "mfx/ops.h"

namespace mfx::criteria {

array focal_positive(const array& logits, double alpha, double gamma) {
  detail::check_floating("focal_positive", "logits", logits, logits.valid() ? logits.ndim() : 0);
  // -log sigmoid(z) = softplus(-z).
  return alpha * detail::pow_gamma(1.0 - sigmoid(logits), gamma) * softplus(negative(logits));
}

array focal_negative(const array& logits, double alpha, double gamma) {
  detail::check_floating("focal_negative", "logits", logits, logits.valid() ? logits.ndim() : 0);
  // -log(1 - sigmoid(z)) = softplus(z).
  return (1.0 - alpha) * detail::pow_gamma(sigmoid(logits), gamma) * softplus(logits);
}

array sigmoid_focal_loss(const array& logits, const array& targets, double alpha, double gamma) {
  const char* fn = "sigmoid_focal_loss";
  detail::check_floating(fn, "logits", logits, logits.valid() ? logits.ndim() : 0);
  if (!targets.valid()) detail::fail(fn, "targets is a null array");
  array tt = astype(targets, logits.dtype());
  array p = sigmoid(logits);
  // binary_cross_entropy_with_logits: softplus(z) - z t.
  array ce = softplus(logits) - logits * tt;
  array p_t = p * tt + (1.0 - p) * (1.0 - tt);
  array alpha_t = alpha * tt + (1.0 - alpha) * (1.0 - tt);
  return alpha_t * ce * detail::pow_gamma(1.0 - p_t, gamma);
}

}  // namespace mfx::criteria
