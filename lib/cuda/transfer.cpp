// to_device and the public GPU switches/statistics (include/mfx/gpu.h).
#include <fmt/format.h>

#include <atomic>

#include "cpu/copy.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"

namespace mfx {

array to_device(const array& x, Device device) {
  x.eval();
  const Device from = x.buffer()->device;
  if (from == device) return x;
  if (device.type == Device::Type::gpu) cuda::require_device(device.index, "to_device");
  if (from.type == Device::Type::gpu && device.type == Device::Type::gpu) {
    return to_device(to_device(x, Device::cpu()), device);
  }
  if (device.type == Device::Type::gpu) {
    array host = x.flags().row_contiguous ? x : cpu::row_contiguous(x);
    array out = array::empty(x.shape(), x.dtype(), device);
    cuda::copy_host_to_device(out.raw_data(), host.raw_data(), host.nbytes(), device.index);
    return out;
  }
  // The whole buffer keeps every layout (negative strides, broadcasts) valid.
  const auto& src = x.buffer();
  auto host = std::make_shared<Buffer>(src->nbytes, device);
  cuda::copy_device_to_host(host->ptr, src->ptr, src->nbytes, from.index);
  array out(x.shape(), x.dtype(), nullptr, {});
  out.set_data(host, x.strides(), x.offset(), x.data_size(), x.flags());
  return out;
}

namespace gpu {

namespace {
std::atomic<bool> tf32_allowed{false};
}

bool is_available() {
  return cuda::gpu_available();
}
std::string unavailable_reason() {
  return cuda::gpu_unavailable_reason();
}
int device_count() {
  if (!cuda::gpu_available()) return 0;
  int count = 0;
  cuda::check(cuda::driver().cuDeviceGetCount(&count), "cuDeviceGetCount");
  return count;
}

void set_allow_tf32(bool allow) {
  tf32_allowed = allow;
}
bool allow_tf32() {
  return tf32_allowed;
}

MemoryStats memory_stats(int device) {
  cuda::require_device(device, "gpu::memory_stats");
  auto s = cuda::allocator(device).stats();
  return {s.in_use, s.cached, s.peak_in_use, s.allocations, s.cache_hits};
}

void empty_cache(int device) {
  cuda::require_device(device, "gpu::empty_cache");
  cuda::allocator(device).empty_cache();
}

void synchronize(int device) {
  cuda::require_device(device, "gpu::synchronize");
  cuda::synchronize(device);
}

}  // namespace gpu
}  // namespace mfx
