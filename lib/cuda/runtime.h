// The CUDA runtime pieces the core uses (internal): the primary context of a
// device, its caching allocator, synchronous host<->device copies on the
// stream eager work runs on, and the hook through which the GPU backend
// (compiled into mfx_compiler, which holds the code generator) evaluates
// primitives. Everything goes through the dlopen'ed driver, so this file
// builds and links on machines without CUDA.
#pragma once

#include <cstddef>
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

/// The stream eager work of device `index` runs on. In this stage it is the
/// legacy default stream, so copies and launches are ordered with each other.
CUstream current_stream(int index);

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
