#include "compiler/jit/fused_kernel.h"

#include <algorithm>
#include <mutex>

#include "compiler/kernel_cache.h"
#include "cpu/copy.h"
#include "cpu/parallel.h"

namespace mfx::jit_detail {

FusedKernel::FusedKernel(compiler::Kernel kernel, compiler::CodegenOptions options)
    : kernel_(std::move(kernel)), options_(options) {}

const compiler::CpuKernel& FusedKernel::cpu_kernel() {
  std::call_once(compiled_,
                 [&] { cpu_ = compiler::KernelCache::global().cpu(kernel_, options_); });
  return *cpu_;
}

void FusedKernel::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const compiler::CpuKernel& k = cpu_kernel();
  // Kernels address every argument as a dense row-major buffer.
  std::vector<array> dense;
  std::vector<void*> buffers;
  for (auto& in : inputs) {
    dense.push_back(in.flags().row_contiguous ? in : cpu::row_contiguous(in));
    buffers.push_back(dense.back().raw_data());
  }
  for (auto& out : outputs) {
    out.allocate();
    buffers.push_back(out.raw_data());
  }
  const int64_t n = kernel_.grid_size();
  int64_t work = 1;
  for (auto& p : kernel_.phases) {
    int64_t d = 1;
    for (auto e : p.domain) d *= e;
    work = std::max(work, d);
  }
  // About 32K inner iterations per task.
  int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / work);
  cpu::parallel_for(n, grain, [&](int64_t b, int64_t e) { k.run(buffers.data(), b, e); });
}

}  // namespace mfx::jit_detail
