#include "cuda/fatbin.h"

#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace mfx::cuda {

CUfunction fatbin_function(const unsigned char* image, size_t size, const std::string& name,
                           const char* op) {
  static std::mutex mutex;
  static std::map<std::pair<CUcontext, const unsigned char*>, CUmodule> modules;
  static std::map<std::tuple<CUcontext, const unsigned char*, std::string>, CUfunction> functions;
  const Driver& d = driver();
  CUcontext ctx = nullptr;
  check(d.cuCtxGetCurrent(&ctx), "cuCtxGetCurrent", op);
  std::lock_guard<std::mutex> lock(mutex);
  auto f = functions.find({ctx, image, name});
  if (f != functions.end()) return f->second;
  if (size == 0) {
    throw std::runtime_error(std::string("[") + op +
                             "] this build has no CUDA kernels (nvcc was not found at configure "
                             "time)");
  }
  CUmodule& module = modules[{ctx, image}];
  if (!module) check(d.cuModuleLoadData(&module, image), "cuModuleLoadData", name);
  CUfunction fn = nullptr;
  check(d.cuModuleGetFunction(&fn, module, name.c_str()), "cuModuleGetFunction", name);
  return functions.emplace(std::tuple{ctx, image, name}, fn).first->second;
}

}  // namespace mfx::cuda
