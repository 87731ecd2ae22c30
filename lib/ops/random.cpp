// Random op functions: key validation, parameter checks, and the
// distributions built on the random primitives.
#include "mfx/random.h"

#include <cmath>
#include <limits>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/random.h"

namespace mfx::random {

namespace {

// A key is a [2] integer array (see random.h); its values are checked at eval.
void check_key(const array& key, const char* op) {
  check_valid(key, op);
  if (key.shape() != Shape{2}) {
    throw std::invalid_argument(fmt::format(
        "[{}] a key must have shape (2), got shape {}; split keys with split() and pass one row",
        op, shape_str(key.shape())));
  }
  if (!is_integral(key.dtype())) {
    throw std::invalid_argument(
        fmt::format("[{}] a key must be an integer array (int64 holding two 32-bit words), got {}",
                    op, dtype_name(key.dtype())));
  }
}

void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape) {
    if (d < 0) {
      throw std::invalid_argument(
          fmt::format("[{}] negative dimension in shape {}", op, shape_str(shape)));
    }
  }
}

}  // namespace

// Each public function runs as_public_op under its own name: the size check
// of the shape it makes, and the ops it is built of (uniform, less, take,
// reshape), then name the function the caller used, not "[random_uniform]".

array key(uint64_t seed) {
  return array({static_cast<int64_t>(seed >> 32), static_cast<int64_t>(seed & 0xFFFFFFFFu)});
}

array split(const array& key, int num) {
  return as_public_op("split", [&] {
    check_key(key, "split");
    if (num < 0) throw std::invalid_argument(fmt::format("[split] num must be >= 0, got {}", num));
    return array(Shape{num, 2}, int64, std::make_shared<RandomSplit>(num, 0), {key});
  });
}

array fold_in(const array& key, uint64_t data) {
  return as_public_op("fold_in", [&] {
    check_key(key, "fold_in");
    array row(Shape{1, 2}, int64, std::make_shared<RandomSplit>(1, data), {key});
    return reshape(row, {2});
  });
}

array bits(const array& key, const Shape& shape) {
  return as_public_op("bits", [&] {
    check_key(key, "bits");
    check_shape(shape, "bits");
    return array(shape, int64, std::make_shared<RandomBits>(shape), {key});
  });
}

array uniform(const array& key, const Shape& shape, double low, double high, Dtype dtype) {
  return as_public_op("uniform", [&] {
    check_key(key, "uniform");
    check_shape(shape, "uniform");
    if (!is_floating(dtype)) {
      throw std::invalid_argument(
          fmt::format("[uniform] dtype must be floating, got {}", dtype_name(dtype)));
    }
    if (!std::isfinite(low) || !std::isfinite(high) || !std::isfinite(high - low) ||
        !(low < high)) {
      throw std::invalid_argument(
          fmt::format("[uniform] bounds must be finite with low < high, got [{}, {})", low, high));
    }
    return array(shape, dtype, std::make_shared<RandomUniform>(shape, low, high, dtype), {key});
  });
}

array normal(const array& key, const Shape& shape, double mean, double stddev, Dtype dtype) {
  return as_public_op("normal", [&] {
    check_key(key, "normal");
    check_shape(shape, "normal");
    if (!is_floating(dtype)) {
      throw std::invalid_argument(
          fmt::format("[normal] dtype must be floating, got {}", dtype_name(dtype)));
    }
    if (!std::isfinite(mean) || !std::isfinite(stddev) || stddev < 0) {
      throw std::invalid_argument(fmt::format(
          "[normal] mean must be finite and stddev finite and >= 0, got mean {} stddev {}", mean,
          stddev));
    }
    // The value after -1 makes the interval open, so erfinv stays finite.
    const Dtype c = dtype == float64 ? float64 : float32;
    const double lo =
        c == float64 ? std::nextafter(-1.0, 0.0) : static_cast<double>(std::nextafter(-1.0f, 0.0f));
    array u = uniform(key, shape, lo, 1.0, c);
    array z = erfinv(u) * (std::sqrt(2.0) * stddev) + mean;
    return astype(z, dtype);
  });
}

array bernoulli(const array& key, const array& p, const Shape& shape) {
  return as_public_op("bernoulli", [&] {
    check_key(key, "bernoulli");
    check_valid(p, "bernoulli");
    check_shape(shape, "bernoulli");
    if (p.dtype() == bool_) {
      throw std::invalid_argument(fmt::format(
          "[bernoulli] p must be a numeric array, got bool of shape {}", shape_str(p.shape())));
    }
    if (broadcast_shapes(p.shape(), shape, "bernoulli") != shape) {
      throw std::invalid_argument(fmt::format("[bernoulli] p of shape {} does not broadcast to {}",
                                              shape_str(p.shape()), shape_str(shape)));
    }
    const Dtype c = p.dtype() == float64 ? float64 : float32;
    return less(uniform(key, shape, 0.0, 1.0, c), p);
  });
}

array randint(const array& key, int64_t low, int64_t high, const Shape& shape, Dtype dtype) {
  return as_public_op("randint", [&] {
    check_key(key, "randint");
    check_shape(shape, "randint");
    if (!is_integral(dtype)) {
      throw std::invalid_argument(
          fmt::format("[randint] dtype must be uint8, int32 or int64, got {}", dtype_name(dtype)));
    }
    if (high <= low) {
      throw std::invalid_argument(
          fmt::format("[randint] high must be greater than low, got [{}, {})", low, high));
    }
    int64_t lo_min = 0, hi_max = 255;
    if (dtype == int32) {
      lo_min = std::numeric_limits<int32_t>::min();
      hi_max = std::numeric_limits<int32_t>::max();
    } else if (dtype == int64) {
      lo_min = std::numeric_limits<int64_t>::min();
      hi_max = std::numeric_limits<int64_t>::max();
    }
    if (low < lo_min || high - 1 > hi_max) {
      throw std::invalid_argument(
          fmt::format("[randint] bounds [{}, {}) do not fit {}", low, high, dtype_name(dtype)));
    }
    return array(shape, dtype, std::make_shared<RandomInteger>(shape, low, high, dtype), {key});
  });
}

array permutation(const array& key, int64_t n) {
  return as_public_op("permutation", [&] {
    check_key(key, "permutation");
    if (n < 0 || n > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument(fmt::format("[permutation] n must be in [0, 2^31), got {}", n));
    }
    return array(Shape{n}, int32, std::make_shared<RandomPermutation>(n), {key});
  });
}

array permutation(const array& key, const array& x) {
  return as_public_op("permutation", [&] {
    check_key(key, "permutation");
    check_valid(x, "permutation");
    if (x.ndim() == 0) {
      throw std::invalid_argument("[permutation] x must be at least 1-d, got shape ()");
    }
    // A gather of rows, so the shuffle differentiates like take.
    return take(x, permutation(key, x.shape(0)), 0);
  });
}

}  // namespace mfx::random
