// Running a Kernel IR kernel on a target: compiled (and cached) for the CPU
// and run over the grid on the thread pool, or compiled to PTX, loaded once
// per device and launched on the device's eager stream.
#include <fmt/format.h>

#include <map>
#include <mutex>

#include "compiler/gpu/one_op.h"
#include "compiler/kernel_cache.h"
#include "cpu/parallel.h"
#include "cuda/runtime.h"

namespace mfx::gpu_detail {

namespace {

void run_cpu(const compiler::Kernel& kernel, const std::vector<void*>& buffers) {
  auto k = compiler::KernelCache::global().cpu(kernel);
  int64_t work = 1;
  for (auto& p : kernel.phases) {
    int64_t d = 1;
    for (auto e : p.domain) d *= e;
    work = std::max(work, d);
  }
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / work);
  cpu::parallel_for(kernel.grid_size(), grain,
                    [&](int64_t b, int64_t e) { k->run(buffers.data(), b, e); });
}

struct LoadedKernel {
  std::shared_ptr<const compiler::PtxKernel> ptx;  // kept alive: its address is the key
  cuda::CUmodule module = nullptr;
  cuda::CUfunction function = nullptr;
};

// Modules stay loaded for the life of the process (like cached kernels).
const LoadedKernel& load(const std::shared_ptr<const compiler::PtxKernel>& kernel, int device) {
  const compiler::PtxKernel& ptx = *kernel;
  static std::mutex mutex;
  static std::map<std::pair<const compiler::PtxKernel*, int>, LoadedKernel> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(&ptx, device);
  auto it = loaded.find(key);
  if (it != loaded.end()) return it->second;
  const cuda::Driver& d = cuda::driver();
  cuda::make_current(device);
  LoadedKernel lk;
  lk.ptx = kernel;
  std::string image = ptx.ptx + '\0';  // cuModuleLoadData wants NUL-terminated PTX
  cuda::check(d.cuModuleLoadData(&lk.module, image.data()), "cuModuleLoadData", ptx.entry);
  cuda::check(d.cuModuleGetFunction(&lk.function, lk.module, ptx.entry.c_str()),
              "cuModuleGetFunction", ptx.entry);
  if (ptx.shared_bytes > 48 * 1024) {
    cuda::check(d.cuFuncSetAttribute(lk.function, cuda::kFuncAttrMaxDynamicSharedBytes,
                                     static_cast<int>(ptx.shared_bytes)),
                "cuFuncSetAttribute", fmt::format("{} ({} B shared)", ptx.entry, ptx.shared_bytes));
  }
  return loaded.emplace(key, lk).first->second;
}

void run_gpu(const compiler::Kernel& kernel, const std::vector<void*>& buffers,
             compiler::Target target, int device) {
  auto ptx = compiler::KernelCache::global().ptx(kernel, target);
  const LoadedKernel& lk = load(ptx, device);
  std::vector<cuda::CUdeviceptr> ptrs;
  for (void* b : buffers) ptrs.push_back(reinterpret_cast<cuda::CUdeviceptr>(b));
  std::vector<void*> params;
  for (auto& p : ptrs) params.push_back(&p);
  cuda::make_current(device);
  cuda::check(cuda::driver().cuLaunchKernel(lk.function, static_cast<unsigned>(ptx->grid_blocks), 1,
                                            1, static_cast<unsigned>(ptx->block_threads), 1, 1,
                                            static_cast<unsigned>(ptx->shared_bytes),
                                            cuda::current_stream(device), params.data(), nullptr),
              "cuLaunchKernel",
              fmt::format("{}: {} blocks x {} threads, {} B shared", ptx->entry, ptx->grid_blocks,
                          ptx->block_threads, ptx->shared_bytes));
}

}  // namespace

void launch(const compiler::Kernel& kernel, const std::vector<void*>& buffers,
            compiler::Target target, Device device) {
  if (kernel.grid_size() == 0) return;
  if (target == compiler::Target::Cpu) {
    run_cpu(kernel, buffers);
  } else {
    run_gpu(kernel, buffers, target, device.index);
  }
}

}  // namespace mfx::gpu_detail
