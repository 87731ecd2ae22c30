// Counter-based random numbers (Threefry-2x32, as in JAX): the same key gives
// the same numbers on every run and platform. Keys are uint32 arrays of shape
// [2]; split them instead of reusing.
#pragma once

#include <cstdint>

#include "mfx/array.h"

namespace mfx::random {

/// A key from a seed.
array key(uint64_t seed);
/// `num` new keys [num, 2] derived from `key`.
array split(const array& key, int num = 2);
/// The i-th of split(key, n) without making the others ([2]).
array fold_in(const array& key, uint32_t data);
/// Raw random 32-bit words (int64 holding values in [0, 2^32)) of `shape`.
array bits(const array& key, const Shape& shape);
/// Uniform in [low, high).
array uniform(const array& key, const Shape& shape, double low = 0.0, double high = 1.0,
              Dtype dtype = float32);
/// Normal with mean and standard deviation.
array normal(const array& key, const Shape& shape, double mean = 0.0, double stddev = 1.0,
             Dtype dtype = float32);
/// Bernoulli(p) as bool; `p` broadcasts against shape.
array bernoulli(const array& key, const array& p, const Shape& shape);
/// Integers uniform in [low, high).
array randint(const array& key, int64_t low, int64_t high, const Shape& shape,
              Dtype dtype = int32);
/// A random permutation of 0..n-1 (int32).
array permutation(const array& key, int64_t n);
/// `x` shuffled along axis 0.
array permutation(const array& key, const array& x);

}  // namespace mfx::random
