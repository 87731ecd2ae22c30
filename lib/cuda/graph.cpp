#include "cuda/graph.h"

#include <fmt/format.h>

#include "cuda/runtime.h"

namespace mfx::cuda {

namespace {

// Ends a capture that failed part-way and drops what it recorded.
void abandon_capture(CUstream side, CachingAllocator& alloc) {
  CUgraph partial = nullptr;
  driver().cuStreamEndCapture(side, &partial);  // its error is the one already thrown
  if (partial) driver().cuGraphDestroy(partial);
  alloc.release_held(alloc.end_recording());
}

}  // namespace

CudaGraph::CudaGraph(int index, const std::function<void()>& body) : index_(index) {
  const Driver& d = driver();
  CachingAllocator& alloc = allocator(index);
  CUstream side = side_stream(index);
  alloc.begin_recording();
  try {
    check(d.cuStreamBeginCapture(side, kStreamCaptureModeRelaxed), "cuStreamBeginCapture",
          fmt::format("(gpu:{})", index));
  } catch (...) {
    alloc.release_held(alloc.end_recording());
    throw;
  }
  try {
    SideStreamScope scope(index, /*capturing=*/true);
    body();
  } catch (...) {
    abandon_capture(side, alloc);
    throw;
  }
  CUresult rc = d.cuStreamEndCapture(side, &graph_);
  held_ = alloc.end_recording();
  try {
    check(rc, "cuStreamEndCapture", fmt::format("(gpu:{})", index));
    check(d.cuGraphInstantiateWithFlags(&exec_, graph_, 0), "cuGraphInstantiate",
          fmt::format("(gpu:{})", index));
    check(d.cuGraphGetNodes(graph_, nullptr, &nodes_), "cuGraphGetNodes");
  } catch (...) {
    if (exec_) d.cuGraphExecDestroy(exec_);
    if (graph_) d.cuGraphDestroy(graph_);
    alloc.release_held(held_);
    throw;
  }
}

CudaGraph::~CudaGraph() {
  const Driver& d = driver();
  d.cuGraphExecDestroy(exec_);
  d.cuGraphDestroy(graph_);
  // Work queued after the last replay is ordered after it (SideStreamScope),
  // so the blocks may be reused at once.
  allocator_for_release(index_).release_held(held_);
}

void CudaGraph::launch() {
  check(driver().cuGraphLaunch(exec_, current_stream(index_)), "cuGraphLaunch",
        fmt::format("({} nodes on gpu:{})", nodes_, index_));
}

}  // namespace mfx::cuda
