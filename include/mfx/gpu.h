// GPU arrays: explicit transfers between devices, and the switches and
// statistics of the CUDA runtime.
//
// Placement rules (like JAX's "computation follows data"):
// - An op runs on the GPU when one of its inputs lives there, or when it was
//   created while the default device (set_default_device) was a GPU; other
//   ops run on the CPU.
// - A GPU op copies host inputs to the GPU only when they are one-element
//   arrays (scalars such as `x * 2.0f`) or when the op was created with a GPU
//   default device. Otherwise a host input next to a GPU input is an error
//   naming the op, the shapes and the devices: copy it with to_device first.
// - Reading a GPU array on the host: item() and to_vector() make an implicit
//   synchronising copy (like JAX's float(x) / np.asarray(x)); data() and
//   data_ptr() cannot hand out a host pointer and throw, naming to_device.
// - Ops without a GPU kernel throw "[<Primitive>] has no GPU kernel yet"
//   rather than silently running on the host.
#pragma once

#include <cstddef>
#include <string>

#include "mfx/array.h"

namespace mfx {

/// A copy of `x` (evaluated first) on `device`; `x` itself when it already
/// lives there. Host to GPU copies a row-major version of x; GPU to host
/// copies the whole underlying buffer and keeps x's layout. GPU to GPU goes
/// through the host. Synchronous. Not recorded by transforms: call it outside
/// grad/vmap/jit. Throws when the device does not exist or no GPU works.
array to_device(const array& x, Device device);

namespace gpu {

/// True when the CUDA driver loaded and reports at least one GPU.
bool is_available();
/// Why is_available() is false ("" when it is true).
std::string unavailable_reason();
/// GPUs the driver reports (0 without a GPU or driver); with one process
/// per GPU, a process uses Device::gpu(local_rank % device_count()).
int device_count();

/// Whether float32 matmuls on the GPU may use TF32 tensor cores (about 10
/// mantissa bits). Off by default, so GPU matmuls match the CPU's accuracy.
void set_allow_tf32(bool allow);
bool allow_tf32();

/// Device memory held by the caching allocator of one GPU.
struct MemoryStats {
  size_t in_use = 0;       // bytes held by live arrays
  size_t cached = 0;       // bytes freed by arrays, kept for reuse
  size_t peak_in_use = 0;  // highest in_use so far
  size_t allocations = 0;  // buffer allocations
  size_t cache_hits = 0;   // allocations served from the cache
};
MemoryStats memory_stats(int device = 0);
/// Gives the cached (unused) blocks of one GPU back to the driver.
void empty_cache(int device = 0);
/// Waits until all work queued on one GPU has finished.
void synchronize(int device = 0);

}  // namespace gpu
}  // namespace mfx
