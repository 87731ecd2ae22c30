#include "cuda/driver.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>
#include <stdexcept>

namespace mfx::cuda {

namespace {

template <typename F>
bool bind(void* lib, F*& fn, const char* name, std::string& missing) {
  fn = reinterpret_cast<F*>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  return fn != nullptr;
}

Driver load() {
  Driver d;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    d.unavailable_reason = fmt::format("no CUDA driver (dlopen libcuda.so.1: {})", err ? err : "?");
    return d;
  }
  std::string missing;
  bind(lib, d.cuInit, "cuInit", missing);
  bind(lib, d.cuDriverGetVersion, "cuDriverGetVersion", missing);
  bind(lib, d.cuDeviceGetCount, "cuDeviceGetCount", missing);
  bind(lib, d.cuDeviceGet, "cuDeviceGet", missing);
  bind(lib, d.cuDeviceGetName, "cuDeviceGetName", missing);
  bind(lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
  bind(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", missing);
  bind(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent", missing);
  bind(lib, d.cuCtxSynchronize, "cuCtxSynchronize", missing);
  bind(lib, d.cuCtxGetCurrent, "cuCtxGetCurrent", missing);
  bind(lib, d.cuModuleLoadData, "cuModuleLoadData", missing);
  bind(lib, d.cuModuleUnload, "cuModuleUnload", missing);
  bind(lib, d.cuModuleGetFunction, "cuModuleGetFunction", missing);
  bind(lib, d.cuFuncSetAttribute, "cuFuncSetAttribute", missing);
  bind(lib, d.cuLaunchKernel, "cuLaunchKernel", missing);
  // The _v2 entry points are the 64-bit ABI that cuda.h maps these names to.
  bind(lib, d.cuMemAlloc, "cuMemAlloc_v2", missing);
  bind(lib, d.cuMemFree, "cuMemFree_v2", missing);
  bind(lib, d.cuMemcpyHtoD, "cuMemcpyHtoD_v2", missing);
  bind(lib, d.cuMemcpyDtoH, "cuMemcpyDtoH_v2", missing);
  bind(lib, d.cuStreamCreate, "cuStreamCreate", missing);
  bind(lib, d.cuStreamSynchronize, "cuStreamSynchronize", missing);
  bind(lib, d.cuGetErrorName, "cuGetErrorName", missing);
  bind(lib, d.cuGetErrorString, "cuGetErrorString", missing);
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
