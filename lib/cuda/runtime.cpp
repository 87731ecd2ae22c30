#include "cuda/runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
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

namespace {

// Large transfers go through two pinned (page-locked) staging buffers per
// device: the CPU copies one chunk while the DMA engine moves the other.
// Smaller ones, or all when pinned memory cannot be had, copy directly.
constexpr size_t kStagingChunk = size_t{8} << 20;
constexpr size_t kStagedFrom = size_t{1} << 20;

struct Staging {
  std::mutex mutex;
  void* buffer[2] = {nullptr, nullptr};
  CUevent done[2] = {nullptr, nullptr};  // the last DMA that used each buffer
  bool usable = false;
};

// Made on first use per device; kept for the life of the process.
Staging* staging(int index) {
  static std::mutex mutex;
  static auto* all = new std::map<int, Staging*>();
  std::lock_guard<std::mutex> lock(mutex);
  Staging*& s = (*all)[index];
  if (!s) {
    s = new Staging();
    const Driver& d = driver();
    bool ok = true;
    for (int i = 0; i < 2 && ok; ++i) {
      ok = d.cuMemHostAlloc(&s->buffer[i], kStagingChunk, 0) == 0 &&
           d.cuEventCreate(&s->done[i], 0) == 0 && d.cuEventRecord(s->done[i], nullptr) == 0;
    }
    s->usable = ok;
  }
  return s;
}

}  // namespace

void copy_host_to_device(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  make_current(index);
  const Driver& d = driver();
  const std::string what = fmt::format("({} bytes to gpu:{})", bytes, index);
  Staging* s = bytes >= kStagedFrom ? staging(index) : nullptr;
  if (!s || !s->usable) {
    check(d.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes), "cuMemcpyHtoD", what);
    return;
  }
  std::lock_guard<std::mutex> lock(s->mutex);
  for (size_t off = 0, i = 0; off < bytes; off += kStagingChunk, i ^= 1) {
    const size_t n = std::min(kStagingChunk, bytes - off);
    check(d.cuEventSynchronize(s->done[i]), "cuEventSynchronize", what);  // buffer i is free
    std::memcpy(s->buffer[i], static_cast<const char*>(src) + off, n);
    check(d.cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(dst) + off, s->buffer[i], n, nullptr),
          "cuMemcpyHtoDAsync", what);
    check(d.cuEventRecord(s->done[i], nullptr), "cuEventRecord", what);
  }
  // Later work on the stream is ordered after the copies; the source may be
  // reused at once (it was copied to the staging buffers).
}

void copy_device_to_host(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  make_current(index);
  const Driver& d = driver();
  const std::string what = fmt::format("({} bytes from gpu:{})", bytes, index);
  Staging* s = bytes >= kStagedFrom ? staging(index) : nullptr;
  if (!s || !s->usable) {
    check(d.cuMemcpyDtoH(dst, reinterpret_cast<CUdeviceptr>(src), bytes), "cuMemcpyDtoH", what);
    return;
  }
  std::lock_guard<std::mutex> lock(s->mutex);
  // Chunk k lands in buffer k % 2 while chunk k - 1 is copied out.
  const size_t chunks = (bytes + kStagingChunk - 1) / kStagingChunk;
  auto issue = [&](size_t k) {
    const size_t off = k * kStagingChunk, n = std::min(kStagingChunk, bytes - off);
    check(d.cuEventSynchronize(s->done[k % 2]), "cuEventSynchronize", what);
    check(
        d.cuMemcpyDtoHAsync(s->buffer[k % 2], reinterpret_cast<CUdeviceptr>(src) + off, n, nullptr),
        "cuMemcpyDtoHAsync", what);
    check(d.cuEventRecord(s->done[k % 2], nullptr), "cuEventRecord", what);
  };
  issue(0);
  for (size_t k = 0; k < chunks; ++k) {
    if (k + 1 < chunks) issue(k + 1);
    const size_t off = k * kStagingChunk, n = std::min(kStagingChunk, bytes - off);
    check(d.cuEventSynchronize(s->done[k % 2]), "cuEventSynchronize", what);
    std::memcpy(static_cast<char*>(dst) + off, s->buffer[k % 2], n);
  }
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
