// CUDA graphs (internal): the work one thread queues on a device, captured
// once from its side stream and replayed with one launch. The graph reads
// and writes fixed addresses, so the device blocks allocated while it was
// captured stay held by it (CachingAllocator::begin_recording) until it is
// destroyed.
#pragma once

#include <functional>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/driver.h"

namespace mfx::cuda {

class CudaGraph {
 public:
  /// Runs `body` on this thread with device `index`'s work captured from its
  /// side stream (SideStreamScope with capturing: host copies and
  /// synchronisation throw CaptureError). The caller synchronises the device
  /// first (the capture must not depend on unfinished work of other streams).
  /// Throws when body throws or the capture fails; nothing is left held.
  /// One thread drives a device while it captures (the side stream and the
  /// allocator's recording are per device).
  CudaGraph(int index, const std::function<void()>& body);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  /// Queues one replay on the current stream of the device (inside a
  /// SideStreamScope: ordered with the eager stream's work both ways).
  void launch();
  /// Nodes of the graph (kernels, copies, memsets, library kernels).
  size_t nodes() const { return nodes_; }
  int device() const { return index_; }

 private:
  int index_;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
  size_t nodes_ = 0;
  std::vector<CachingAllocator::Block> held_;
};

}  // namespace mfx::cuda
