// Internal helpers of the Deformable DETR model.
#include "detr/detr_common.h"

#include <stdexcept>

#include "mfx/linalg.h"
#include "mfx/nn.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr::detail {

void fail(const std::string& fn, const std::string& what) {
  throw std::invalid_argument("[" + fn + "] " + what);
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

const array& param(const std::string& fn, const Tree& params, const std::string& path,
                   const std::optional<Shape>& shape) {
  if (!params.contains(path)) {
    fail(fn, "parameter '" + path + "' is missing from the parameter tree");
  }
  const array& a = params.at(path);
  if (shape && a.shape() != *shape) {
    fail(fn, "parameter '" + path + "' has shape " + shape_str(a.shape()) + ", expected " +
                 shape_str(*shape));
  }
  return a;
}

array linear(const std::string& fn, const Tree& params, const std::string& prefix, const array& x) {
  const array& w = param(fn, params, join(prefix, "weight"));
  if (w.ndim() != 2 || w.shape(1) != x.shape(-1)) {
    fail(fn, "linear '" + prefix + "' has weight " + shape_str(w.shape()) +
                 " that does not accept an input of shape " + shape_str(x.shape()));
  }
  const array& b = param(fn, params, join(prefix, "bias"), Shape{w.shape(0)});
  return matmul(x, transpose(w)) + b;
}

array layer_norm(const std::string& fn, const Tree& params, const std::string& prefix,
                 const array& x) {
  const Shape s{x.shape(-1)};
  return mfx::layer_norm(x, param(fn, params, join(prefix, "weight"), s),
                         param(fn, params, join(prefix, "bias"), s), 1e-5);
}

array drop(const array& x, double p, bool train, const std::optional<array>& key, uint64_t site) {
  if (!train || p == 0.0) return x;
  return dropout(x, p, random::fold_in(*key, site), true);
}

void check_key(const std::string& fn, bool train, const std::optional<array>& key) {
  if (train && !key) fail(fn, "training mode (dropout) needs a random key");
}

void check_padding_mask(const std::string& fn, const std::optional<array>& mask, int64_t batch,
                        int64_t length) {
  if (!mask) return;
  if (mask->dtype() != bool_ || mask->shape() != Shape{batch, length}) {
    fail(fn, "padding mask must be bool of shape " + shape_str({batch, length}) + ", got " +
                 shape_str(mask->shape()) + " " + std::string(dtype_name(mask->dtype())));
  }
}

array inverse_sigmoid(const array& x) {
  const array c = clip(x, array(0.0, x.dtype()), array(1.0, x.dtype()));
  const array lo = array(1e-5, x.dtype());
  return log(maximum(c, lo) / maximum(1.0 - c, lo));
}

}  // namespace mfx::detr::detail
