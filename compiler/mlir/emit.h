// Internal interface between the MLIR translation units of compiler/mlir:
// building a Kernel's MLIR module and the shared context setup. Includes MLIR
// headers, so only compiler/mlir/*.cpp may include it.
#pragma once

#include <memory>
#include <string>

#include "compiler/codegen.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace mfx::compiler::detail {

/// A context with the dialects and translations codegen uses, single-threaded.
std::unique_ptr<mlir::MLIRContext> make_context();

/// How a GPU kernel is launched (filled by build_module for CUDA targets).
struct GpuLaunch {
  int block_threads = 0;
  int64_t grid_blocks = 0;
  int64_t shared_bytes = 0;
};

/// The kernel as an MLIR module: a func.func(args..., begin, end) for the CPU,
/// a gpu.module holding one gpu.func for CUDA targets. Validates the kernel
/// first. In fast mode the math approximations are already applied.
mlir::OwningOpRef<mlir::ModuleOp> build_module(mlir::MLIRContext& ctx, const Kernel& kernel,
                                               Target target, const CodegenOptions& options,
                                               GpuLaunch* launch = nullptr);

/// Textual form of an operation (generic-free, pretty printed).
std::string print(mlir::Operation* op);

}  // namespace mfx::compiler::detail
