#include "cuda/driver.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>
#include <stdexcept>

#include "cuda/dl_bind.h"

namespace mfx::cuda {

namespace {

Driver load() {
  Driver d;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    d.unavailable_reason = fmt::format("no CUDA driver (dlopen libcuda.so.1: {})", err ? err : "?");
    return d;
  }
  std::string missing;
  bind_symbol(lib, d.cuInit, "cuInit", missing);
  bind_symbol(lib, d.cuDriverGetVersion, "cuDriverGetVersion", missing);
  bind_symbol(lib, d.cuDeviceGetCount, "cuDeviceGetCount", missing);
  bind_symbol(lib, d.cuDeviceGet, "cuDeviceGet", missing);
  bind_symbol(lib, d.cuDeviceGetName, "cuDeviceGetName", missing);
  bind_symbol(lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
  bind_symbol(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", missing);
  bind_symbol(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent", missing);
  bind_symbol(lib, d.cuCtxSynchronize, "cuCtxSynchronize", missing);
  bind_symbol(lib, d.cuCtxGetCurrent, "cuCtxGetCurrent", missing);
  bind_symbol(lib, d.cuModuleLoadData, "cuModuleLoadData", missing);
  bind_symbol(lib, d.cuModuleUnload, "cuModuleUnload", missing);
  bind_symbol(lib, d.cuModuleGetFunction, "cuModuleGetFunction", missing);
  bind_symbol(lib, d.cuFuncSetAttribute, "cuFuncSetAttribute", missing);
  bind_symbol(lib, d.cuLaunchKernel, "cuLaunchKernel", missing);
  // The _v2 entry points are the 64-bit ABI that cuda.h maps these names to.
  bind_symbol(lib, d.cuMemAlloc, "cuMemAlloc_v2", missing);
  bind_symbol(lib, d.cuMemFree, "cuMemFree_v2", missing);
  bind_symbol(lib, d.cuMemcpyHtoD, "cuMemcpyHtoD_v2", missing);
  bind_symbol(lib, d.cuMemcpyDtoH, "cuMemcpyDtoH_v2", missing);
  bind_symbol(lib, d.cuMemHostAlloc, "cuMemHostAlloc", missing);
  bind_symbol(lib, d.cuMemFreeHost, "cuMemFreeHost", missing);
  bind_symbol(lib, d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", missing);
  bind_symbol(lib, d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", missing);
  bind_symbol(lib, d.cuEventCreate, "cuEventCreate", missing);
  bind_symbol(lib, d.cuEventRecord, "cuEventRecord", missing);
  bind_symbol(lib, d.cuEventSynchronize, "cuEventSynchronize", missing);
  bind_symbol(lib, d.cuStreamCreate, "cuStreamCreate", missing);
  bind_symbol(lib, d.cuStreamSynchronize, "cuStreamSynchronize", missing);
  bind_symbol(lib, d.cuStreamWaitEvent, "cuStreamWaitEvent", missing);
  bind_symbol(lib, d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", missing);
  bind_symbol(lib, d.cuMemsetD8Async, "cuMemsetD8Async", missing);
  bind_symbol(lib, d.cuStreamBeginCapture, "cuStreamBeginCapture_v2", missing);
  bind_symbol(lib, d.cuStreamEndCapture, "cuStreamEndCapture", missing);
  bind_symbol(lib, d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", missing);
  bind_symbol(lib, d.cuGraphLaunch, "cuGraphLaunch", missing);
  bind_symbol(lib, d.cuGraphGetNodes, "cuGraphGetNodes", missing);
  bind_symbol(lib, d.cuGraphExecDestroy, "cuGraphExecDestroy", missing);
  bind_symbol(lib, d.cuGraphDestroy, "cuGraphDestroy", missing);
  bind_symbol(lib, d.cuGetErrorName, "cuGetErrorName", missing);
  bind_symbol(lib, d.cuGetErrorString, "cuGetErrorString", missing);
  if (!missing.empty()) {
    d.unavailable_reason = "the CUDA driver lacks: " + missing;
    return d;
  }
  CUresult rc = d.cuInit(0);
  if (rc != 0) {
    const char* name = nullptr;
    d.cuGetErrorName(rc, &name);
    d.unavailable_reason = fmt::format("cuInit failed: {}", name ? name : std::to_string(rc));
    return d;
  }
  int count = 0;
  if (d.cuDeviceGetCount(&count) != 0 || count == 0) {
    d.unavailable_reason = "the CUDA driver reports no device";
    return d;
  }
  d.available = true;
  return d;
}

}  // namespace

const Driver& driver() {
  static const Driver d = load();
  return d;
}

bool gpu_available() {
  return driver().available;
}

std::string gpu_unavailable_reason() {
  return driver().unavailable_reason;
}

void check(CUresult rc, const char* what, const std::string& context) {
  if (rc == 0) return;
  const Driver& d = driver();
  const char* name = nullptr;
  const char* msg = nullptr;
  if (d.cuGetErrorName) d.cuGetErrorName(rc, &name);
  if (d.cuGetErrorString) d.cuGetErrorString(rc, &msg);
  throw std::runtime_error(fmt::format("[cuda] {} failed: {} ({}){}", what,
                                       name ? name : std::to_string(rc), msg ? msg : "",
                                       context.empty() ? "" : " " + context));
}

}  // namespace mfx::cuda
