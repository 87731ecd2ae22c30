#include "cuda/runtime.h"

#include "cuda/range_check.h"

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

namespace {

struct StreamOverride {
  int index = -1;
  CUstream stream = nullptr;
  bool capturing = false;
};
thread_local StreamOverride stream_override;

void refuse_during_capture(const char* what) {
  if (stream_override.capturing) {
    throw CaptureError(fmt::format(
        "[cuda graph] {} cannot be recorded in a CUDA graph (it would not be replayed)", what));
  }
}

// Per device: an event recorded on one stream that the other waits for.
CUevent ordering_event(int index) {
  static std::mutex mutex;
  static auto* events = new std::map<int, CUevent>();
  std::lock_guard<std::mutex> lock(mutex);
  CUevent& e = (*events)[index];
  if (!e) check(driver().cuEventCreate(&e, kEventDisableTiming), "cuEventCreate");
  return e;
}

// `waiter` waits (on the device) for the work queued on `first` so far.
void order_after(CUstream waiter, CUstream first, int index) {
  static std::mutex mutex;  // record + wait must not interleave with another pair
  std::lock_guard<std::mutex> lock(mutex);
  CUevent e = ordering_event(index);
  check(driver().cuEventRecord(e, first), "cuEventRecord");
  check(driver().cuStreamWaitEvent(waiter, e, 0), "cuStreamWaitEvent");
}

// order_after for destructors: with the device's context made current (a
// legacy stream belongs to the current context); when that fails, the host
// waits for `first` instead, so the ordering holds either way.
void order_or_wait(CUstream waiter, CUstream first, int index) noexcept {
  try {
    make_current(index);
    order_after(waiter, first, index);
  } catch (const std::exception&) {
    driver().cuStreamSynchronize(first);
  }
}

}  // namespace

CUstream current_stream(int index) {
  return stream_override.index == index ? stream_override.stream : nullptr;
}

CUstream side_stream(int index) {
  static std::mutex mutex;
  static auto* streams = new std::map<int, CUstream>();
  make_current(index);
  std::lock_guard<std::mutex> lock(mutex);
  CUstream& s = (*streams)[index];
  if (!s) {
    check(driver().cuStreamCreate(&s, kStreamNonBlocking), "cuStreamCreate",
          fmt::format("(side stream of gpu:{})", index));
  }
  return s;
}

SideStreamScope::SideStreamScope(int index, bool capturing) : index_(index), capturing_(capturing) {
  if (stream_override.index == index && !capturing) {
    nested_ = true;  // already on the side stream (a jitted call inside one)
    return;
  }
  if (stream_override.index >= 0) {
    throw std::logic_error(
        "[cuda] a side-stream region cannot start inside another (a CUDA-graph capture inside a "
        "graphed function's call, or work on two GPUs at once)");
  }
  CUstream side = side_stream(index);
  if (!capturing) order_after(side, nullptr, index);
  stream_override = {index, side, capturing};
}

SideStreamScope::~SideStreamScope() {
  if (nested_) return;
  CUstream side = stream_override.stream;
  stream_override = {};
  if (!capturing_) order_or_wait(nullptr, side, index_);
}

bool capturing() {
  return stream_override.capturing;
}

void copy_device_to_device_async(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  check(
      driver().cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(dst),
                                 reinterpret_cast<CUdeviceptr>(src), bytes, current_stream(index)),
      "cuMemcpyDtoDAsync", fmt::format("({} bytes on gpu:{})", bytes, index));
}

void fill_zero_async(void* dst, size_t bytes, int index) {
  if (bytes == 0) return;
  check(
      driver().cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(dst), 0, bytes, current_stream(index)),
      "cuMemsetD8Async", fmt::format("({} bytes on gpu:{})", bytes, index));
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
  refuse_during_capture("a host-to-device copy");
  make_current(index);
  // Copies go through the eager stream: inside a side-stream scope it first
  // waits for the side stream (dst may be a block its pending work just
  // freed), and side-stream work after the copy waits for it.
  CUstream side = current_stream(index);
  if (side) order_after(nullptr, side, index);
  struct SideWaits {
    CUstream side;
    int index;
    ~SideWaits() {
      if (side) order_or_wait(side, nullptr, index);
    }
  } side_waits{side, index};
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

namespace {

void copy_device_to_host_raw(void* dst, const void* src, size_t bytes, int index) {
  make_current(index);
  // The eager stream copies; it first waits for the side stream's work.
  if (CUstream side = current_stream(index)) order_after(nullptr, side, index);
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

}  // namespace

void copy_device_to_host(void* dst, const void* src, size_t bytes, int index) {
  if (bytes == 0) return;
  refuse_during_capture("a device-to-host copy");
  copy_device_to_host_raw(dst, src, bytes, index);
  // The copy waited for all earlier work: index errors found on the device
  // surface before the data is used.
  report_range_errors(index);
}

void synchronize(int index) {
  refuse_during_capture("synchronisation");
  make_current(index);
  check(driver().cuCtxSynchronize(), "cuCtxSynchronize", fmt::format("(gpu:{})", index));
  report_range_errors(index);
}

void set_gpu_evaluator(GpuEvaluator fn) {
  evaluator_slot() = fn;
}
GpuEvaluator gpu_evaluator() {
  return evaluator_slot();
}

}  // namespace mfx::cuda
