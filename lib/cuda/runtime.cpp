#include "cuda/runtime.h"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <stdexcept>

namespace mfx::cuda {

namespace {

std::mutex& runtime_mutex() {
  static std::mutex m;
  return m;
}

struct DeviceState {
  CUcontext context = nullptr;
  int capability = 0;
  CachingAllocator* allocator = nullptr;  // never destroyed: buffers may outlive statics
};

// One entry per device touched; intentionally leaked (see DeviceState).
DeviceState& state(int index) {
  static auto* states = new std::map<int, DeviceState>();
  std::lock_guard<std::mutex> lock(runtime_mutex());
  DeviceState& s = (*states)[index];
  if (!s.context) {
    const Driver& d = driver();
    CUdevice dev;
    check(d.cuDeviceGet(&dev, index), "cuDeviceGet", fmt::format("(device {})", index));
    check(d.cuDevicePrimaryCtxRetain(&s.context, dev), "cuDevicePrimaryCtxRetain",
          fmt::format("(device {})", index));
    int major = 0, minor = 0;
    check(d.cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, dev), "cuDeviceGetAttribute");
    check(d.cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, dev), "cuDeviceGetAttribute");
    s.capability = major * 10 + minor;
    check(d.cuCtxSetCurrent(s.context), "cuCtxSetCurrent");
    s.allocator = new CachingAllocator(driver_memory());
  }
  return s;
}

GpuEvaluator& evaluator_slot() {
  static GpuEvaluator fn = nullptr;
  return fn;
}

}  // namespace

void require_device(int index, const char* op) {
  if (!gpu_available()) {
    throw std::runtime_error(fmt::format("[{}] no GPU: {}", op, gpu_unavailable_reason()));
  }
  int count = 0;
  check(driver().cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (index < 0 || index >= count) {
    throw std::invalid_argument(
        fmt::format("[{}] gpu:{} does not exist ({} GPU(s) visible)", op, index, count));
  }
}

void make_current(int index) {
  require_device(index, "cuda");
  check(driver().cuCtxSetCurrent(state(index).context), "cuCtxSetCurrent",
        fmt::format("(device {})", index));
}

int compute_capability(int index) {
  make_current(index);
  return state(index).capability;
}

CachingAllocator& allocator(int index) {
  make_current(index);
  return *state(index).allocator;
}

CachingAllocator& allocator_for_release(int index) noexcept {
  // A buffer of this device exists, so state(index) was made without error.
  return *state(index).allocator;
}

CUstream current_stream(int) {
  return nullptr;
}

void copy_host_to_device(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  make_current(index);
  check(driver().cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes), "cuMemcpyHtoD",
        fmt::format("({} bytes to gpu:{})", bytes, index));
}

void copy_device_to_host(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  make_current(index);
  check(driver().cuMemcpyDtoH(dst, reinterpret_cast<CUdeviceptr>(src), bytes), "cuMemcpyDtoH",
        fmt::format("({} bytes from gpu:{})", bytes, index));
}

void synchronize(int index) {
  make_current(index);
  check(driver().cuCtxSynchronize(), "cuCtxSynchronize", fmt::format("(gpu:{})", index));
}

void set_gpu_evaluator(GpuEvaluator fn) {
  evaluator_slot() = fn;
}
GpuEvaluator gpu_evaluator() {
  return evaluator_slot();
}

}  // namespace mfx::cuda
