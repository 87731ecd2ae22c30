// A generated kernel as a primitive of the executed program (internal).
#pragma once

#include <memory>
#include <mutex>

#include "compiler/codegen.h"
#include "eval_when_empty.h"
#include "mfx/primitive.h"

namespace mfx::jit_detail {

class FusedKernel : public Primitive, public EvalWhenEmpty {
 public:
  /// `range_checks`: (argument, size) pairs of gather indices that must lie
  /// in [-size, size); checked before every launch, like the eager gathers,
  /// also when the kernel's outputs are empty (EvalWhenEmpty): an eager
  /// gather whose own result is not empty checks its indices even when only
  /// an empty slice of it is used.
  FusedKernel(compiler::Kernel kernel, compiler::CodegenOptions options,
              std::vector<std::pair<int, int64_t>> range_checks = {});
  std::string name() const override { return kernel_.name; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const compiler::Kernel& kernel() const { return kernel_; }
  /// The (argument, size) gather index checks (see the constructor).
  const std::vector<std::pair<int, int64_t>>& range_checks() const { return range_checks_; }
  /// Compiles now (else at the first evaluation), through the kernel cache
  /// (memory and $MFX_CACHE_DIR).
  const compiler::CpuKernel& cpu_kernel();

 private:
  compiler::Kernel kernel_;
  compiler::CodegenOptions options_;
  std::vector<std::pair<int, int64_t>> range_checks_;
  std::once_flag compiled_;
  std::shared_ptr<const compiler::CpuKernel> cpu_;
};

}  // namespace mfx::jit_detail
