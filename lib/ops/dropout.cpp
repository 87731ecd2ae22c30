// dropout: a Bernoulli keep-mask from the counter-based generator, so the
// same key drops the same elements on every run.
#include "mfx/nn.h"
#include "mfx/random.h"
#include "ops/op_utils.h"
#include "ops/public_op.h"

namespace mfx {

array dropout(const array& x, double p, const array& key, bool training) {
  check_valid(x, "dropout");
  check_valid(key, "dropout");
  if (!(p >= 0.0 && p <= 1.0)) {
    throw std::invalid_argument(fmt::format("[dropout] p must be in [0, 1], got {}", p));
  }
  if (!training || p == 0.0) return x;
  const Dtype t = to_floating(x.dtype());
  return as_public_op("dropout", [&] {
    if (p == 1.0) return zeros(x.shape(), t);
    array keep = random::bernoulli(key, array(1.0 - p, t == float64 ? float64 : float32), x.shape());
    array xf = astype(x, t);
    return where(keep, multiply(xf, array(1.0 / (1.0 - p), t)), zeros({}, t));
  });
}

}  // namespace mfx
