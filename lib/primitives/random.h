// Counter-based random primitives (internal). Input 0 of each is a key: a [2]
// integer array of two 32-bit words. Element i of an output is derived from
// the Threefry-2x32-20 block at counter (i >> 32, i & 0xffffffff); see
// include/mfx/random.h for the value each primitive makes of the block.
#pragma once

#include <cstdint>
#include <utility>

#include "mfx/primitive.h"

namespace mfx {

/// The Threefry-2x32 block function with 20 rounds (Salmon et al. 2011):
/// key words k0, k1 and counter words c0, c1 -> two output words.
std::pair<uint32_t, uint32_t> threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1);

/// The bounds RandomUniform clamps to for a float dtype: the smallest value
/// >= low and the largest < high, as doubles. Throws std::invalid_argument
/// "[uniform] no <dtype> value lies in [low, high)" when there is none.
std::pair<double, double> uniform_bounds(Dtype dtype, double low, double high);

/// Keys [num, 2] (int64): row i is the block at counter start + i.
class RandomSplit : public Primitive {
 public:
  RandomSplit(int64_t num, uint64_t start) : num_(num), start_(start) {}
  int64_t num() const { return num_; }
  uint64_t start() const { return start_; }
  std::string name() const override { return "RandomSplit"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  int64_t num_;
  uint64_t start_;
};

/// 32-bit words y0 ^ y1 as int64 values in [0, 2^32).
class RandomBits : public Primitive {
 public:
  explicit RandomBits(Shape shape) : shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  std::string name() const override { return "RandomBits"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  Shape shape_;
};

/// Floats uniform in [low, high) of the output's floating dtype.
class RandomUniform : public Primitive {
 public:
  RandomUniform(Shape shape, double low, double high, Dtype dtype)
      : shape_(std::move(shape)), low_(low), high_(high), dtype_(dtype) {}
  const Shape& shape() const { return shape_; }
  double low() const { return low_; }
  double high() const { return high_; }
  Dtype dtype() const { return dtype_; }
  std::string name() const override { return "RandomUniform"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  Shape shape_;
  double low_, high_;
  Dtype dtype_;  // the output's: part of the function (CSE) and of the zero tangent
};

/// Integers uniform in [low, high) of the output's integer dtype.
class RandomInteger : public Primitive {
 public:
  RandomInteger(Shape shape, int64_t low, int64_t high, Dtype dtype)
      : shape_(std::move(shape)), low_(low), high_(high), dtype_(dtype) {}
  const Shape& shape() const { return shape_; }
  int64_t low() const { return low_; }
  int64_t high() const { return high_; }
  Dtype dtype() const { return dtype_; }
  std::string name() const override { return "RandomInteger"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  Shape shape_;
  int64_t low_, high_;
  Dtype dtype_;  // the output's: part of the function (CSE) and of the zero tangent
};

/// Fisher–Yates permutation of 0..n-1 (int32).
class RandomPermutation : public Primitive {
 public:
  explicit RandomPermutation(int64_t n) : n_(n) {}
  int64_t n() const { return n_; }
  std::string name() const override { return "RandomPermutation"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;

 private:
  int64_t n_;
};

}  // namespace mfx
