// Counter-based random numbers (Threefry-2x32 with 20 rounds, as in JAX): the
// same key gives the same numbers on every run and platform, and there is no
// hidden global state. Split keys instead of reusing them.
//
// Keys. mfx has no uint32 dtype, so a key is an int64 array of shape [2]
// holding two 32-bit words (k0, k1), each in [0, 2^32). Functions taking a key
// also accept uint8 and int32 arrays of shape [2] (an int32 element is read as
// its 32-bit pattern, so keys stored as int32 keep working); other dtypes and
// shapes throw std::invalid_argument, and an int64 element outside [0, 2^32)
// throws when the result is evaluated.
//
// Streams. threefry(k, (c0, c1)) is the Threefry-2x32-20 block function of
// Salmon et al. (Random123): 32-bit key words k, 32-bit counter words c, two
// 32-bit output words (y0, y1). Every generator below gives the element at
// row-major position i of its result the block at counter
// (c0, c1) = (i >> 32, i & 0xffffffff) and derives the value from (y0, y1) as
// documented per function. This is JAX's layout with
// jax_threefry_partitionable (the default since JAX 0.5): key, split, fold_in,
// bits and uniform on [0, 1) in float32/float64 give JAX's numbers.
#pragma once

#include <cstdint>

#include "mfx/array.h"

namespace mfx::random {

/// A key from a 64-bit seed: (seed >> 32, seed & 0xffffffff), like
/// jax.random.key(seed). key(0) is (0, 0).
array key(uint64_t seed);

/// `num` (>= 0) new keys as a [num, 2] int64 array: row i is the block
/// threefry(key, (i >> 32, i & 0xffffffff)), i.e. fold_in(key, i).
array split(const array& key, int num = 2);

/// A new key ([2] int64) for `data`: the block threefry(key, (data >> 32,
/// data & 0xffffffff)), so it equals row `data` of split(key, n) for any n >
/// data without making the others.
array fold_in(const array& key, uint64_t data);

/// Raw random 32-bit words of `shape` as int64 values in [0, 2^32): element i
/// is y0 ^ y1 of its block.
array bits(const array& key, const Shape& shape);

/// Uniform samples in [low, high) (strictly below `high`, also after rounding
/// to `dtype`). float32 and the half types take u = (word >> 9) * 2^-23 from
/// the 32-bit word of bits(); float64 takes u = (((y0 << 32) | y1) >> 12) *
/// 2^-52. The result is fma(u, high - low, low) rounded to `dtype` (halves
/// round from float32 precision) and clamped to the `dtype` values in
/// [low, high). Throws unless dtype is floating and low < high are finite with
/// a finite difference; throws at evaluation when no `dtype` value lies in
/// [low, high).
array uniform(const array& key, const Shape& shape, double low = 0.0, double high = 1.0,
              Dtype dtype = float32);

/// Normal samples with the given mean and standard deviation (>= 0):
/// mean + stddev * sqrt(2) * erfinv(u), u = uniform(key, shape, lo, 1) with lo
/// the value after -1 (an open interval (-1, 1)), like JAX. Computed in
/// float64 for float64 and in float32 otherwise (halves round at the end).
array normal(const array& key, const Shape& shape, double mean = 0.0, double stddev = 1.0,
             Dtype dtype = float32);

/// Bernoulli(p) samples as bool: uniform(key, shape) < p, the uniforms being
/// float64 when p is float64 and float32 otherwise. `p` (any numeric dtype)
/// must broadcast to `shape`; p <= 0 gives false and p >= 1 true.
array bernoulli(const array& key, const array& p, const Shape& shape);

/// Integers uniform in [low, high) of an integer `dtype` (uint8, int32,
/// int64): low + (((y0 << 32) | y1) mod (high - low)). The 64-bit word keeps
/// the modulo bias below (high - low) / 2^64, under 2^-32 for ranges below
/// 2^32. Throws unless high > low and both bounds fit `dtype` (high - 1 must).
array randint(const array& key, int64_t low, int64_t high, const Shape& shape, Dtype dtype = int32);

/// A random permutation of 0..n-1 (int32, 0 <= n < 2^31): a Fisher–Yates
/// shuffle that, for i = n-1 down to 1, swaps positions i and
/// ((y0 << 32) | y1) mod (i + 1) of block i.
array permutation(const array& key, int64_t n);

/// `x` (at least 1-d) shuffled along axis 0: row r of the result is row
/// permutation(key, x.shape(0))[r] of x.
array permutation(const array& key, const array& x);

}  // namespace mfx::random
