#include "compiler/jit/fused_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "compiler/kernel_cache.h"
#include "cpu/copy.h"
#include "cpu/parallel.h"

namespace mfx::jit_detail {

FusedKernel::FusedKernel(compiler::Kernel kernel, compiler::CodegenOptions options,
                         std::vector<std::pair<int, int64_t>> range_checks)
    : kernel_(std::move(kernel)), options_(options) {
  std::sort(range_checks.begin(), range_checks.end());
  range_checks.erase(std::unique(range_checks.begin(), range_checks.end()), range_checks.end());
  range_checks_ = std::move(range_checks);
}

namespace {

template <typename T>
void check_range(const array& idx, int64_t size, const std::string& kernel) {
  const T* p = idx.data_ptr<T>();
  for (int64_t i = 0; i < idx.size(); ++i) {
    int64_t v = static_cast<int64_t>(p[i]);
    if (v < -size || v >= size) {
      throw std::invalid_argument(fmt::format(
          "[take] index {} is out of range for an axis with size {} (in fused kernel {})", v, size,
          kernel));
    }
  }
}

}  // namespace

const compiler::CpuKernel& FusedKernel::cpu_kernel() {
  std::call_once(compiled_, [&] { cpu_ = compiler::KernelCache::global().cpu(kernel_, options_); });
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
  for (auto& [arg, size] : range_checks_) {
    const array& idx = dense[arg];
    switch (idx.dtype()) {
      case int32:
        check_range<int32_t>(idx, size, kernel_.name);
        break;
      case int64:
        check_range<int64_t>(idx, size, kernel_.name);
        break;
      case uint8:
        check_range<uint8_t>(idx, size, kernel_.name);
        break;
      default:
        throw std::invalid_argument(fmt::format("[take] indices of dtype {} in fused kernel {}",
                                                dtype_name(idx.dtype()), kernel_.name));
    }
  }
  bool empty = true;
  for (auto& out : outputs) {
    out.allocate();
    buffers.push_back(out.raw_data());
    empty = empty && out.size() == 0;
  }
  if (empty) return;  // run for the index checks above only (EvalWhenEmpty)
  const int64_t n = kernel_.grid_size();
  int64_t work = 1;
  for (auto& p : kernel_.phases) {
    int64_t d = 1;
    for (auto e : p.domain) d *= e;
    work = std::max(work, d);
  }
  // About 32K inner iterations per task. Grid points that each hold that
  // much are claimed one at a time: the lanes of a stitched kernel differ
  // in cost, and equal static halves left one thread idle for most of it.
  int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / work);
  auto run = [&](int64_t b, int64_t e) { k.run(buffers.data(), b, e); };
  if (grain == 1) {
    cpu::parallel_for_each(n, run);
  } else {
    cpu::parallel_for(n, grain, run);
  }
}

}  // namespace mfx::jit_detail
