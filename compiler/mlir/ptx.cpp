// CUDA back end: lowers the gpu.module to NVVM and serialises it to PTX with
// gpu-module-to-binary (format=isa). The toolkit path is passed explicitly:
// without it libdevice is silently missing and ptxas fails on __nv_expf.
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

#include "compiler/mlir/emit.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace mfx::compiler {

namespace {

using namespace mlir;

const char* kCudaToolkit = "/usr/local/cuda";

std::string toolkit_path() {
  if (const char* home = std::getenv("CUDA_HOME")) return home;
  return kCudaToolkit;
}

}  // namespace

PtxKernel compile_ptx(const Kernel& kernel, Target target, const CodegenOptions& options) {
  if (target == Target::Cpu)
    throw std::invalid_argument("[compile_ptx] target must be sm_80 or sm_90");
  auto t0 = std::chrono::steady_clock::now();
  auto ctx = detail::make_context();
  detail::GpuLaunch launch;
  auto module = detail::build_module(*ctx, kernel, target, options, &launch);
  PtxKernel out;
  out.entry = kernel.name;
  out.mlir = detail::print(module->getOperation());
  out.block_threads = launch.block_threads;
  out.grid_blocks = launch.grid_blocks;
  out.shared_bytes = launch.shared_bytes;

  PassManager pm(ctx.get());
  OpPassManager& gm = pm.nest<gpu::GPUModuleOp>();
  gm.addPass(createConvertSCFToCFPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm_opts;
  nvvm_opts.indexBitwidth = 64;
  nvvm_opts.useBarePtrCallConv = true;
  gm.addPass(createConvertGpuOpsToNVVMOps(nvvm_opts));
  // What libdevice does not cover (math.fma of the fast-mode polynomials).
  gm.addPass(createConvertMathToLLVMPass());
  gm.addPass(createCanonicalizerPass());
  gm.addPass(createCSEPass());
  gm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions bin_opts;
  bin_opts.toolkitPath = toolkit_path();
  bin_opts.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(bin_opts));
  if (failed(pm.run(*module))) {
    throw std::runtime_error(fmt::format("[compile_ptx] kernel '{}' for {}: lowering failed:\n{}",
                                         kernel.name, target_name(target), out.mlir));
  }
  gpu::BinaryOp binary;
  module->walk([&](gpu::BinaryOp op) { binary = op; });
  if (!binary || binary.getObjects().empty()) {
    throw std::runtime_error(
        fmt::format("[compile_ptx] kernel '{}': no PTX produced", kernel.name));
  }
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  std::string ptx = object.getObject().str();
  // The serialiser keeps the NUL that cuModuleLoadData needs; files do not.
  while (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
  out.ptx = std::move(ptx);
  out.compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace mfx::compiler
