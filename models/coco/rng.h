// A small deterministic RNG for the data pipeline (internal). std::
// distributions are implementation-defined, so everything here is built from
// SplitMix64 with fixed formulas: the same seed gives the same stream on
// every platform and standard library.
#pragma once

#include <cstdint>

namespace mfx::coco::detail {

/// SplitMix64's finaliser: a bijective 64-bit mix.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Seed of one stream from several integers (seed, epoch, index, ...):
/// distinct tuples give unrelated streams, unlike seed + epoch + index.
inline uint64_t combine_seed(uint64_t a, uint64_t b, uint64_t c = 0) {
  return mix64(mix64(mix64(a) ^ (b + 0x9E3779B97F4A7C15ULL)) ^ (c + 0x632BE59BD9B4E019ULL));
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive; lo <= hi). The multiply-shift
  /// bias is below 2^-32 for the small ranges used here.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>((next() >> 32) * span >> 32);
  }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

}  // namespace mfx::coco::detail
