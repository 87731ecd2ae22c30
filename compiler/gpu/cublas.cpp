#include "compiler/gpu/cublas.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "cuda/dl_bind.h"

#include "cuda/runtime.h"

namespace mfx::cuda {

namespace {

Cublas load() {
  Cublas c;
  void* lib = nullptr;
  std::string tried;
  for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
    const char* err = dlerror();
    tried += fmt::format("{}{}", tried.empty() ? "" : "; ", err ? err : name);
  }
  if (!lib) {
    c.unavailable_reason = "cuBLAS not found (" + tried + ")";
    return c;
  }
  std::string missing;
  bind_symbol(lib, c.create, "cublasCreate_v2", missing);
  bind_symbol(lib, c.set_stream, "cublasSetStream_v2", missing);
  bind_symbol(lib, c.set_workspace, "cublasSetWorkspace_v2", missing);
  bind_symbol(lib, c.set_math_mode, "cublasSetMathMode", missing);
  bind_symbol(lib, c.status_name, "cublasGetStatusName", missing);
  bind_symbol(lib, c.gemm_strided_batched_ex, "cublasGemmStridedBatchedEx", missing);
  if (!missing.empty()) {
    c.unavailable_reason = "cuBLAS lacks: " + missing;
    return c;
  }
  c.available = true;
  return c;
}

}  // namespace

const Cublas& cublas() {
  static const Cublas c = load();
  return c;
}

void check_cublas(cublasStatus_t status, const char* what, const std::string& context) {
  if (status == 0) return;
  const char* name = cublas().status_name ? cublas().status_name(status) : nullptr;
  throw std::runtime_error(fmt::format("[cublas] {} failed: {}{}", what,
                                       name ? name : std::to_string(status),
                                       context.empty() ? "" : " " + context));
}

cublasHandle_t cublas_handle(int index) {
  const Cublas& c = cublas();
  if (!c.available) throw std::runtime_error("[matmul] no GPU matmul: " + c.unavailable_reason);
  // 32 MiB: what cuBLAS recommends for Hopper, plenty for earlier GPUs.
  constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  static std::mutex mutex;
  static std::map<std::pair<int, CUstream>, cublasHandle_t> handles;  // live for the process
  const CUstream stream = current_stream(index);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find({index, stream});
  if (it != handles.end()) return it->second;
  if (capturing()) {
    throw CaptureError("[cuda graph] the first cuBLAS call on a stream cannot be recorded");
  }
  make_current(index);
  cublasHandle_t h = nullptr;
  check_cublas(c.create(&h), "cublasCreate", fmt::format("(gpu:{})", index));
  check_cublas(c.set_stream(h, stream), "cublasSetStream");
  // A workspace of its own, never freed (graphs may hold its address).
  CUdeviceptr workspace = 0;
  check(driver().cuMemAlloc(&workspace, kWorkspaceBytes), "cuMemAlloc",
        fmt::format("({} bytes of cuBLAS workspace on gpu:{})", kWorkspaceBytes, index));
  check_cublas(c.set_workspace(h, reinterpret_cast<void*>(workspace), kWorkspaceBytes),
               "cublasSetWorkspace");
  return handles.emplace(std::pair{index, stream}, h).first->second;
}

}  // namespace mfx::cuda
