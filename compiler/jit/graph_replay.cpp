// CUDA-graph replay of jitted programs (see graph_replay.h).
#include "compiler/jit/graph_replay.h"

#include <fmt/format.h>

#include "cuda/graph.h"
#include "cuda/range_check.h"
#include "cuda/runtime.h"

namespace mfx::jit_detail {

namespace {

size_t span_bytes(const array& x) {
  return static_cast<size_t>(x.data_size()) * size_of(x.dtype());
}

// An evaluated array on `device` with x's layout over a new buffer holding
// x's span (uninitialised: filled by an asynchronous copy).
array like(const array& x, Device device) {
  array a(x.shape(), x.dtype(), nullptr, {});
  a.set_data(std::make_shared<Buffer>(span_bytes(x), device), x.strides(), 0, x.data_size(),
             x.flags());
  return a;
}

// Copies move [first element, first + data_size): views reaching below
// their first element (negative strides) are not addressed that way.
bool forward_strides(const array& x) {
  for (auto s : x.strides()) {
    if (s < 0) return false;
  }
  return true;
}

bool same_layout(const array& a, const array& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.strides() == b.strides() &&
         a.data_size() == b.data_size() && forward_strides(a);
}

}  // namespace

GraphReplay::GraphReplay(Device device) : device_(device) {}
GraphReplay::~GraphReplay() = default;

std::optional<std::vector<array>> GraphReplay::run(const std::vector<array>& inputs,
                                                   const RunPlan& run_plan) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!failure_.empty()) return std::nullopt;
  for (const array& x : inputs) {
    // Host scalars next to GPU inputs cannot be copied device to device.
    if (!x.on_gpu() || x.device().index != device_.index) return std::nullopt;
  }
  if (calls_++ == 0) {
    // Warm-up on the side stream: modules load, cuBLAS sets up for it.
    cuda::SideStreamScope scope(device_.index);
    return run_plan(inputs);
  }
  if (!graph_) {
    for (const array& x : inputs) {
      if (!forward_strides(x)) return std::nullopt;  // capture on a later call
    }
    // Outside the try: this may report an index error of an earlier call,
    // which belongs to the caller, not to the capture.
    cuda::synchronize(device_.index);
    try {
      capture(inputs, run_plan);
    } catch (const std::exception& e) {
      // A step the graph cannot record (CaptureError) or a failing capture:
      // this function runs step by step from now on.
      failure_ = e.what();
      static_inputs_.clear();
      static_outputs_.clear();
      return std::nullopt;
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!same_layout(inputs[i], static_inputs_[i])) return std::nullopt;
  }
  return replay_graph(inputs);
}

void GraphReplay::capture(const std::vector<array>& inputs, const RunPlan& run_plan) {
  const uint64_t checks_before = cuda::range_checks_issued();
  graph_ = std::make_unique<cuda::CudaGraph>(device_.index, [&] {
    // Allocated during the capture, so the graph holds them.
    for (const array& x : inputs) static_inputs_.push_back(like(x, device_));
    static_outputs_ = run_plan(static_inputs_);
    for (const array& y : static_outputs_) {
      if (!forward_strides(y)) {
        throw std::runtime_error("an output is a view with negative strides");
      }
      if (!y.on_gpu() || y.device().index != device_.index) {
        throw std::runtime_error("an output does not live on " + device_.str());
      }
    }
  });
  has_range_checks_ = cuda::range_checks_issued() != checks_before;
}

std::vector<array> GraphReplay::replay_graph(const std::vector<array>& inputs) {
  const int index = device_.index;
  cuda::SideStreamScope scope(index);
  for (size_t i = 0; i < inputs.size(); ++i) {
    cuda::copy_device_to_device_async(static_inputs_[i].raw_data(), inputs[i].raw_data(),
                                      span_bytes(inputs[i]), index);
  }
  graph_->launch();
  if (has_range_checks_) cuda::range_checks_queued(index);  // read at the next sync
  std::vector<array> outs;
  for (const array& y : static_outputs_) {
    outs.push_back(like(y, device_));
    cuda::copy_device_to_device_async(outs.back().raw_data(), y.raw_data(), span_bytes(y), index);
  }
  return outs;
}

std::string GraphReplay::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!failure_.empty()) return "not captured: " + failure_;
  return graph_ ? "captured" : "warming up";
}

size_t GraphReplay::nodes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return graph_ ? graph_->nodes() : 0;
}

}  // namespace mfx::jit_detail
