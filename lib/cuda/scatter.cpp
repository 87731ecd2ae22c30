// Loading and launching the embedded scatter kernels.
#include "cuda/scatter.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda/fatbin.h"

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kScatterFatbin[];
extern const unsigned long long kScatterFatbin_size;

namespace mfx::cuda {
namespace {

const char* kernel_name(Dtype t) {
  switch (t) {
    case Dtype::float32:
      return "scatter_f32";
    case Dtype::float64:
      return "scatter_f64";
    case Dtype::int32:
      return "scatter_i32";
    case Dtype::int64:
      return "scatter_i64";
    case Dtype::uint8:
      return "scatter_u8";
    case Dtype::bool_:
      return "scatter_bool";
    default:
      return nullptr;
  }
}

}  // namespace

bool scatter_kernels_built() {
  return kScatterFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> scatter_fatbin() {
  return {kScatterFatbin, static_cast<size_t>(kScatterFatbin_size)};
}

bool scatter_supported(Dtype dtype) {
  return kernel_name(dtype) != nullptr;
}

void scatter_rows(Dtype dtype, CUdeviceptr out, CUdeviceptr indices, Dtype index_dtype,
                  CUdeviceptr updates, int64_t outer, int64_t n, int64_t m, int64_t inner, bool add,
                  CUstream stream) {
  const char* name = kernel_name(dtype);
  if (!name || (index_dtype != Dtype::int32 && index_dtype != Dtype::int64)) {
    throw std::invalid_argument(fmt::format("[scatter] no GPU kernel for {} with {} indices",
                                            dtype_name(dtype), dtype_name(index_dtype)));
  }
  const int64_t lines = outer * inner;
  if (lines == 0 || m == 0) return;
  CUfunction fn = fatbin_function(kScatterFatbin, scatter_fatbin().second, name, "scatter");
  int wide = index_dtype == Dtype::int64 ? 1 : 0, accumulate = add ? 1 : 0;
  long long o = outer, len = n, count = m, in = inner;
  void* params[] = {&out, &indices, &wide, &updates, &o, &len, &count, &in, &accumulate};
  constexpr unsigned kThreads = 128;
  const unsigned blocks =
      static_cast<unsigned>(std::clamp<int64_t>((lines + kThreads - 1) / kThreads, 1, 65535));
  check(driver().cuLaunchKernel(fn, blocks, 1, 1, kThreads, 1, 1, 0, stream, params, nullptr),
        "cuLaunchKernel",
        fmt::format("[scatter] {} of [{}, {}, {}] updates into [{}, {}, {}] ({} blocks)", name,
                    outer, m, inner, outer, n, inner, blocks));
}

}  // namespace mfx::cuda
