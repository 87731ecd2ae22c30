// Indexing primitives: gathers and scatters by integer index arrays, and the
// sorting family (sort, argsort, top-k) (internal). Index arrays are int32,
// int64 or uint8; negative indices count from the end; an index out of range
// makes the kernel throw std::invalid_argument before it writes its output.
#pragma once

#include "mfx/primitive.h"

namespace mfx {

/// take: inputs (a, indices); out = a.shape[:axis] + indices.shape + a.shape[axis+1:].
class Gather : public Primitive {
 public:
  explicit Gather(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "Gather"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
};

/// take_along_axis: inputs (a, indices) already broadcast so that they agree
/// on every dim but `axis`; out has the indices' shape and
/// out[.., j, ..] = a[.., indices[.., j, ..], ..].
class GatherAxis : public Primitive {
 public:
  explicit GatherAxis(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "GatherAxis"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
};

enum class ScatterReduce { None, Add };

/// scatter / scatter_add: inputs (a, indices, updates); indices and updates
/// share one shape that agrees with a on every dim but `axis`. out is a copy
/// of a with out[.., indices[.., j, ..], ..] = (or +=) updates[.., j, ..].
/// Writes happen in row-major order of indices, so with duplicates the last
/// one wins (None); Add accumulates (bool: logical or).
class Scatter : public Primitive {
 public:
  Scatter(int axis, ScatterReduce reduce) : axis_(axis), reduce_(reduce) {}
  int axis() const { return axis_; }
  ScatterReduce reduce() const { return reduce_; }
  std::string name() const override {
    return reduce_ == ScatterReduce::Add ? "ScatterAdd" : "Scatter";
  }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
  ScatterReduce reduce_;
};

/// Stable ascending sort along `axis`, NaN last.
class Sort : public Primitive {
 public:
  explicit Sort(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "Sort"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
};

/// int32 indices of a stable ascending sort along `axis`, NaN last.
class ArgSort : public Primitive {
 public:
  explicit ArgSort(int axis) : axis_(axis) {}
  int axis() const { return axis_; }
  std::string name() const override { return "ArgSort"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int axis_;
};

/// Two outputs: the k largest values along `axis` in descending order and
/// their int32 indices. NaN ranks above every number; ties keep the lower
/// index first.
class TopK : public Primitive {
 public:
  TopK(int64_t k, int axis) : k_(k), axis_(axis) {}
  int64_t k() const { return k_; }
  int axis() const { return axis_; }
  std::string name() const override { return "TopK"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;
  MFX_DECLARE_GRAD_RULES;
  MFX_DECLARE_VMAP_RULE;

 private:
  int64_t k_;
  int axis_;
};

}  // namespace mfx
