// The CUDA runtime pieces the core uses (internal): the primary context of a
// device, its caching allocator, synchronous host<->device copies on the
// stream eager work runs on, and the hook through which the GPU backend
// (compiled into mfx_compiler, which holds the code generator) evaluates
// primitives. Everything goes through the dlopen'ed driver, so this file
// builds and links on machines without CUDA.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/driver.h"
#include "mfx/array.h"

namespace mfx::cuda {

/// Throws std::runtime_error "[<op>] no GPU: <reason>" unless device `index`
/// exists and the driver works.
void require_device(int index, const char* op);

/// Makes device `index`'s primary context current on this thread.
void make_current(int index);

/// Compute capability of device `index` as major * 10 + minor (e.g. 90).
int compute_capability(int index);

/// The caching allocator of device `index` (made on first use; process-wide),
/// with the device's context made current for allocations.
CachingAllocator& allocator(int index);
/// The same allocator for returning blocks (no driver call, never throws once
/// the device was used; for destructors).
CachingAllocator& allocator_for_release(int index) noexcept;

/// The stream work of device `index` is queued on by this thread: the
/// legacy default stream (eager work: copies and launches are ordered with
/// each other), or the side stream inside a SideStreamScope.
CUstream current_stream(int index);

/// Device `index`'s side stream (non-blocking; made on first use): jitted
/// programs captured and replayed as CUDA graphs run there.
CUstream side_stream(int index);

/// While alive, this thread's work on device `index` goes to its side
/// stream. Without `capturing`, that work is ordered after everything queued
/// on the eager stream before the scope and before everything queued after
/// it (events, no host synchronisation). With `capturing` (the side stream
/// is recording a graph) no event is used and host copies or synchronisation
/// of this thread throw CaptureError: their effect would not be replayed.
class SideStreamScope {
 public:
  SideStreamScope(int index, bool capturing = false);
  ~SideStreamScope();
  SideStreamScope(const SideStreamScope&) = delete;
  SideStreamScope& operator=(const SideStreamScope&) = delete;

 private:
  int index_;
  bool capturing_;
  bool nested_ = false;
};

/// Thrown by operations a CUDA graph cannot record (host transfers,
/// synchronisation) while this thread captures one.
struct CaptureError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// True while this thread captures a graph.
bool capturing();

/// Asynchronous device-to-device copy and zero fill on the current stream.
void copy_device_to_device_async(void* dst, const void* src, size_t bytes, int index);
void fill_zero_async(void* dst, size_t bytes, int index);

/// Synchronous copies (bytes may be 0).
void copy_host_to_device(void* dst, const void* src, size_t bytes, int index);
void copy_device_to_host(void* dst, const void* src, size_t bytes, int index);

/// Waits for all work queued on device `index`.
void synchronize(int index);

/// Evaluates `p` on the GPU given evaluated inputs that live on `device`.
using GpuEvaluator = void (*)(Primitive& p, const std::vector<array>& inputs,
                              std::vector<array>& outputs, Device device);
/// Installed by the GPU backend (mfx_compiler) when it is linked.
void set_gpu_evaluator(GpuEvaluator fn);
GpuEvaluator gpu_evaluator();

}  // namespace mfx::cuda
