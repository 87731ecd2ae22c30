// A jitted program on GPU arrays replayed as a CUDA graph (internal;
// JitOptions::cuda_graph). The first call of a signature runs the plan step
// by step on the device's side stream (kernels compile, cuBLAS initialises),
// the second captures it into a graph whose inputs are copied into buffers
// the graph owns, and every call from then on is: copy the inputs in, one
// graph launch, copy the outputs out (so results stay valid across calls).
// No host synchronisation after the capture (index range checks run on the
// device, cuda/range_check.h). A plan with a step a graph cannot record
// (host round trips) is left step by step; status() says why.
//
// It lives with the jit, not in compiler/gpu: it needs only the CUDA runtime
// (lib/cuda) and the plan's runner, while compiler/gpu depends on the jit
// (its one-op kernels are planned by the jit planner, and it runs the steps
// of jitted programs, jit_steps.h). So the dependency points one way,
// gpu -> jit, and the jit never includes compiler/gpu.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mfx/array.h"

namespace mfx::cuda {
class CudaGraph;
}

namespace mfx::jit_detail {

class GraphReplay {
 public:
  /// Runs the plan on inputs and evaluates its outputs.
  using RunPlan = std::function<std::vector<array>(const std::vector<array>&)>;

  explicit GraphReplay(Device device);
  ~GraphReplay();

  /// Outputs of one call, or nullopt when this call must run step by step
  /// (the plan cannot be captured, or an input's layout differs from the
  /// captured one).
  std::optional<std::vector<array>> run(const std::vector<array>& inputs, const RunPlan& run_plan);

  /// "warming up", "captured" or "not captured: <why>".
  std::string status() const;
  /// Nodes of the captured graph (0 before the capture or without one).
  size_t nodes() const;

 private:
  std::vector<array> replay_graph(const std::vector<array>& inputs);
  void capture(const std::vector<array>& inputs, const RunPlan& run_plan);

  Device device_;
  mutable std::mutex mutex_;
  int calls_ = 0;
  std::unique_ptr<cuda::CudaGraph> graph_;
  std::vector<array> static_inputs_, static_outputs_;
  std::string failure_;
  bool has_range_checks_ = false;  // the graph checks indices on the device
};

}  // namespace mfx::jit_detail
