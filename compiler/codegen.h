// Code generation for Kernel IR through MLIR (plain C++ interface: the MLIR
// headers stay inside compiler/mlir/*.cpp). One kernel per MLIR module.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "compiler/kernel_ir.h"

namespace mfx::compiler {

enum class Target { Cpu, Sm80, Sm90 };
const char* target_name(Target t);

struct CodegenOptions {
  /// Fast numerics: reassociating reductions (vectorised), polynomial
  /// exp/log/tanh, no NaN/inf guarantees beyond what the ops define. Exact
  /// mode keeps sequential float reductions and libm/libdevice accuracy.
  bool fast_math = false;
};

/// The kernel as MLIR text (memref + scf + arith + math; gpu.func for CUDA
/// targets), before lowering. Deterministic for a given kernel and options.
std::string emit_mlir(const Kernel& kernel, Target target, const CodegenOptions& options);

/// A kernel compiled to native code for this CPU.
class CpuKernel {
 public:
  virtual ~CpuKernel() = default;
  /// Runs the grid points [begin, end) (flat, row-major over Kernel::grid).
  /// `buffers` holds one pointer per kernel argument, in order. Disjoint
  /// ranges may run concurrently on different threads.
  virtual void run(void* const* buffers, int64_t begin, int64_t end) const = 0;
  /// MLIR as emitted, and after lowering to the LLVM dialect.
  virtual const std::string& mlir() const = 0;
  virtual const std::string& lowered_mlir() const = 0;
  /// Wall time spent compiling, in seconds.
  virtual double compile_seconds() const = 0;
};

/// Compiles `kernel` for this CPU. When `object_code` is given it receives the
/// native object file (ELF) the JIT produced, so that load_cpu_kernel can
/// rebuild the kernel later, in this or another process, without MLIR or LLVM
/// code generation (the kernel cache stores it on disk). `optimized_ir`
/// receives the LLVM IR after optimisation (to see what LLVM vectorised).
std::unique_ptr<CpuKernel> compile_cpu(const Kernel& kernel, const CodegenOptions& options,
                                       std::string* object_code = nullptr,
                                       std::string* optimized_ir = nullptr);

/// Links object code from compile_cpu(kernel, ..., &object_code) into a fresh
/// JIT and returns the kernel; `entry` is that kernel's name and `num_args` its
/// argument count. `mlir` and `lowered_mlir` are kept for CpuKernel::mlir() /
/// lowered_mlir() and compile_seconds() reports the load time. Only valid on a
/// host with the same cpu_host_id(); throws std::runtime_error when the object
/// cannot be loaded or lacks the entry.
std::unique_ptr<CpuKernel> load_cpu_kernel(const std::string& object_code, const std::string& entry,
                                           size_t num_args, std::string mlir,
                                           std::string lowered_mlir);

/// What CPU object code depends on besides the kernel: LLVM version, target
/// triple, host CPU name and features (object code is reusable only where this
/// string is equal).
const std::string& cpu_host_id();

/// A kernel compiled to PTX. Launch: `grid_blocks` blocks of `block_threads`
/// threads with `shared_bytes` of dynamic shared memory (0 when the kernel
/// uses only static shared memory); parameters are the argument pointers in
/// order (bare pointers).
struct PtxKernel {
  std::string entry;  // the .entry name in the PTX
  std::string ptx;    // PTX text without the trailing NUL
  std::string mlir;   // MLIR as emitted
  int block_threads = 0;
  int64_t grid_blocks = 0;
  int64_t shared_bytes = 0;
  double compile_seconds = 0;
};

PtxKernel compile_ptx(const Kernel& kernel, Target target, const CodegenOptions& options);

/// What ptxas reports for one entry of a PTX text.
struct PtxasInfo {
  int registers = 0;
  int64_t shared_bytes = 0;
  int64_t spill_bytes = 0;  // spill stores + loads
  std::string log;          // ptxas -v output
};

/// Assembles `ptx` with the CUDA toolkit's ptxas for the target (sm_80 /
/// sm_90) and parses its resource report; throws std::runtime_error with
/// ptxas's messages when assembly fails or ptxas cannot be found.
PtxasInfo run_ptxas(const std::string& ptx, Target target);

}  // namespace mfx::compiler
