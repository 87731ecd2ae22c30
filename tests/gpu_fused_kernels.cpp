// GPU check of generated kernels (run by ctest as "gpu_fused_kernels"): the
// row-softmax kernel (several shapes) is compiled to PTX for this
// device, loaded with cuModuleLoadData, launched, and compared with the same
// kernels compiled for the CPU. Without a GPU it prints why and exits 77,
// which ctest reports as skipped (not passed, not failed).
#include <cmath>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "compiler/codegen.h"
#include "compiler/kernel_builder.h"
#include "cuda/driver.h"
#include "kernel_samples.h"

using namespace mfx;
using namespace mfx::compiler;
using mfx::test::softmax_kernel;

namespace {

// Runs `k` (one float32 input, one float32 output of equal size) on the GPU.
std::vector<float> run_gpu(const Kernel& k, const std::vector<float>& in, Target target) {
  const cuda::Driver& d = cuda::driver();
  cuda::CUdevice dev;
  cuda::CUcontext ctx;
  cuda::check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
  cuda::check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  cuda::check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  PtxKernel ptx = compile_ptx(k, target, {});
  std::string image = ptx.ptx + '\0';  // cuModuleLoadData wants a NUL-terminated PTX image
  cuda::CUmodule mod;
  cuda::CUfunction fn;
  cuda::check(d.cuModuleLoadData(&mod, image.data()), "cuModuleLoadData", k.name);
  cuda::check(d.cuModuleGetFunction(&fn, mod, ptx.entry.c_str()), "cuModuleGetFunction", ptx.entry);
  if (ptx.shared_bytes > 48 * 1024) {
    cuda::check(d.cuFuncSetAttribute(fn, cuda::kFuncAttrMaxDynamicSharedBytes,
                                     static_cast<int>(ptx.shared_bytes)),
                "cuFuncSetAttribute");
  }
  size_t bytes = in.size() * sizeof(float);
  cuda::CUdeviceptr a, b;
  cuda::check(d.cuMemAlloc(&a, bytes), "cuMemAlloc", fmt::format("{} bytes", bytes));
  cuda::check(d.cuMemAlloc(&b, bytes), "cuMemAlloc", fmt::format("{} bytes", bytes));
  cuda::check(d.cuMemcpyHtoD(a, in.data(), bytes), "cuMemcpyHtoD");
  void* params[] = {&a, &b};
  cuda::check(d.cuLaunchKernel(fn, static_cast<unsigned>(ptx.grid_blocks), 1, 1,
                               static_cast<unsigned>(ptx.block_threads), 1, 1,
                               static_cast<unsigned>(ptx.shared_bytes), nullptr, params, nullptr),
              "cuLaunchKernel",
              fmt::format("{} blocks x {} threads", ptx.grid_blocks, ptx.block_threads));
  cuda::check(d.cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<float> out(in.size());
  cuda::check(d.cuMemcpyDtoH(out.data(), b, bytes), "cuMemcpyDtoH");
  d.cuMemFree(a);
  d.cuMemFree(b);
  d.cuModuleUnload(mod);
  return out;
}

std::vector<float> run_cpu(const Kernel& k, const std::vector<float>& in) {
  auto cpu = compile_cpu(k, {});
  std::vector<float> out(in.size());
  void* buffers[] = {const_cast<float*>(in.data()), out.data()};
  cpu->run(buffers, 0, k.grid_size());
  return out;
}

}  // namespace

int main() {
  if (!cuda::gpu_available()) {
    std::printf("skipped: no GPU (%s)\n", cuda::gpu_unavailable_reason().c_str());
    return 77;
  }
  const cuda::Driver& d = cuda::driver();
  cuda::CUdevice dev;
  cuda::check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, cuda::kAttrComputeCapabilityMajor, dev);
  d.cuDeviceGetAttribute(&minor, cuda::kAttrComputeCapabilityMinor, dev);
  Target target = major >= 9 ? Target::Sm90 : Target::Sm80;
  int failures = 0;
  for (auto [R, C] : {std::pair<int64_t, int64_t>{64, 300}, {7, 1000}, {1000, 33}}) {
    Kernel k = softmax_kernel(R, C);
    std::vector<float> in(static_cast<size_t>(R * C));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(std::sin(0.37 * i) * 4.0);
    auto want = run_cpu(k, in);
    auto got = run_gpu(k, in, target);
    double worst = 0;
    for (size_t i = 0; i < in.size(); ++i)
      worst = std::max(worst, std::abs(double(got[i]) - want[i]));
    std::printf("row softmax %ldx%ld on sm_%d%d: max |gpu - cpu| = %.3g\n", static_cast<long>(R),
                static_cast<long>(C), major, minor, worst);
    failures += worst > 1e-5;
  }
  return failures ? 1 : 0;
}
