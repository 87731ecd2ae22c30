// Small contractions as fusable reductions (internal): in plans made for a
// GPU, a scatter-add along an axis of a few updates and a matmul over a
// short contraction become compare/multiply-and-sum reductions, so they fuse
// into their neighbours' per-element kernels instead of splitting them with
// a library call. A few more flops; no launch and no round trip to memory.
#pragma once

#include "compiler/jit/graph.h"

namespace mfx::jit_detail {

/// Longest scattered axis / contraction rewritten, and the most points
/// (output elements x contraction) a rewritten node may have per element of
/// its leading axis (what one block of a block-fused kernel would do).
inline constexpr int64_t kMaxSmallContraction = 64;
inline constexpr int64_t kMaxSmallContractionPoints = int64_t{1} << 20;

/// Identity on an index array whose values must lie in [-size, size). The
/// planner reads through it like a view and makes the kernel check the
/// indices before the launch (as for gathers); run on its own it checks and
/// passes the array on.
class RangeCheckedIndex : public Primitive {
 public:
  explicit RangeCheckedIndex(int64_t size) : size_(size) {}
  int64_t size() const { return size_; }
  std::string name() const override { return "RangeCheckedIndex"; }
  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override;
  bool is_equivalent(const Primitive& other) const override;

 private:
  int64_t size_;
};

/// The graph with small scatter-adds and matmuls rewritten (see above);
/// every other node unchanged.
Graph lower_small_contractions(const Graph& graph);

}  // namespace mfx::jit_detail
