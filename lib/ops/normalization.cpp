// layer_norm, group_norm and batch_norm as composites of reductions and
// elementwise ops. Half inputs compute their statistics in float32 and are
// rounded back at the end.
#include "mfx/nn.h"
#include "ops/op_utils.h"

namespace mfx {

namespace {

Dtype accumulate_type(Dtype t) {
  t = to_floating(t);
  return (t == float16 || t == bfloat16) ? float32 : t;
}

// Checks that an optional affine parameter has shape [n].
void check_param(const std::optional<array>& p, int64_t n, const char* name, const array& x,
                 const char* op) {
  if (!p) return;
  check_valid(*p, op);
  if (p->shape() != Shape{n}) {
    throw std::invalid_argument(fmt::format("[{}] {} must have shape ({}) for input {}, got {}", op,
                                            name, n, shape_str(x.shape()), shape_str(p->shape())));
  }
}

// (x - mean) / sqrt(var + eps) over `axes` of xf.
array standardize(const array& xf, const std::vector<int>& axes, double eps) {
  array mu = mean(xf, axes, true);
  array v = var(xf, axes, true);
  return multiply(subtract(xf, mu), rsqrt(v + eps));
}

// y * weight + bias with parameters of shape `pshape` (broadcasting against y).
array affine(array y, const std::optional<array>& weight, const std::optional<array>& bias,
             const Shape& pshape) {
  if (weight) y = multiply(y, reshape(astype(*weight, y.dtype()), pshape));
  if (bias) y = add(y, reshape(astype(*bias, y.dtype()), pshape));
  return y;
}

// [C, 1, ..., 1] so that per-channel parameters broadcast over [N, C, ...].
Shape channel_shape(const array& x) {
  Shape s(x.ndim() - 1, 1);
  s[0] = x.shape()[1];
  return s;
}

void check_nc(const array& x, const char* op) {
  check_valid(x, op);
  if (x.ndim() < 2) {
    throw std::invalid_argument(
        fmt::format("[{}] expected input [N,C,...], got shape {}", op, shape_str(x.shape())));
  }
}

}  // namespace

array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps) {
  check_valid(x, "layer_norm");
  if (x.ndim() < 1) {
    throw std::invalid_argument(
        fmt::format("[layer_norm] expected at least 1 axis, got shape {}", shape_str(x.shape())));
  }
  const int64_t d = x.shape(-1);
  check_param(weight, d, "weight", x, "layer_norm");
  check_param(bias, d, "bias", x, "layer_norm");
  array xf = astype(x, accumulate_type(x.dtype()));
  array y = affine(standardize(xf, {-1}, eps), weight, bias, {d});
  return astype(y, to_floating(x.dtype()));
}

array group_norm(const array& x, int groups, const std::optional<array>& weight,
                 const std::optional<array>& bias, double eps) {
  check_nc(x, "group_norm");
  const int64_t n = x.shape()[0], c = x.shape()[1];
  if (groups < 1 || c % groups != 0) {
    throw std::invalid_argument(fmt::format(
        "[group_norm] groups ({}) must be positive and divide the {} channels of input {}", groups,
        c, shape_str(x.shape())));
  }
  check_param(weight, c, "weight", x, "group_norm");
  check_param(bias, c, "bias", x, "group_norm");
  int64_t per_group = c / groups;
  for (int i = 2; i < x.ndim(); ++i) per_group *= x.shape()[i];
  array xf = reshape(astype(x, accumulate_type(x.dtype())), {n, groups, per_group});
  array y = reshape(standardize(xf, {-1}, eps), x.shape());
  return astype(affine(y, weight, bias, channel_shape(x)), to_floating(x.dtype()));
}

array batch_norm(const array& x, const array& running_mean, const array& running_var,
                 const std::optional<array>& weight, const std::optional<array>& bias, double eps) {
  check_nc(x, "batch_norm");
  const int64_t c = x.shape()[1];
  check_param(running_mean, c, "running_mean", x, "batch_norm");
  check_param(running_var, c, "running_var", x, "batch_norm");
  check_param(weight, c, "weight", x, "batch_norm");
  check_param(bias, c, "bias", x, "batch_norm");
  const Dtype t = accumulate_type(x.dtype());
  const Shape ps = channel_shape(x);
  array mu = reshape(astype(running_mean, t), ps);
  array inv = rsqrt(reshape(astype(running_var, t), ps) + eps);
  array y = multiply(subtract(astype(x, t), mu), inv);
  return astype(affine(y, weight, bias, ps), to_floating(x.dtype()));
}

}  // namespace mfx
