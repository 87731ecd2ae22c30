// Loading and launching the embedded scan kernels.
#include "cuda/scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda/fatbin.h"

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kScanFatbin[];
extern const unsigned long long kScanFatbin_size;

namespace mfx::cuda {
namespace {

// The kernel of a (input, output) dtype pair, or "" when there is none.
std::string kernel_name(Dtype in, Dtype out) {
  if (in == Dtype::float32 && out == Dtype::float32) return "scan_sum_f32";
  if (in == Dtype::float64 && out == Dtype::float64) return "scan_sum_f64";
  const char* from = in == Dtype::bool_   ? "bool"
                     : in == Dtype::uint8 ? "u8"
                     : in == Dtype::int32 ? "i32"
                     : in == Dtype::int64 ? "i64"
                                          : nullptr;
  const char* to = out == Dtype::int32 ? "i32" : out == Dtype::int64 ? "i64" : nullptr;
  if (!from || !to) return "";
  return fmt::format("scan_sum_{}_{}", from, to);
}

}  // namespace

bool scan_kernels_built() {
  return kScanFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> scan_fatbin() {
  return {kScanFatbin, static_cast<size_t>(kScanFatbin_size)};
}

bool scan_supported(Dtype in, Dtype out) {
  return !kernel_name(in, out).empty();
}

void scan_sum(Dtype in, Dtype out, CUdeviceptr x, CUdeviceptr y, int64_t outer, int64_t n,
              int64_t inner, bool reverse, bool inclusive, CUstream stream) {
  const std::string name = kernel_name(in, out);
  if (name.empty()) {
    throw std::invalid_argument(
        fmt::format("[cumsum] no GPU scan kernel from {} to {}", dtype_name(in), dtype_name(out)));
  }
  const int64_t lines = outer * inner;
  if (lines == 0 || n == 0) return;
  CUfunction fn = fatbin_function(kScanFatbin, scan_fatbin().second, name, "cumsum");
  long long o = outer, len = n, in_ = inner;
  int rev = reverse ? 1 : 0, inc = inclusive ? 1 : 0;
  void* params[] = {&x, &y, &o, &len, &in_, &rev, &inc};
  constexpr unsigned kThreads = 128;
  const unsigned blocks =
      static_cast<unsigned>(std::clamp<int64_t>((lines + kThreads - 1) / kThreads, 1, 65535));
  check(driver().cuLaunchKernel(fn, blocks, 1, 1, kThreads, 1, 1, 0, stream, params, nullptr),
        "cuLaunchKernel",
        fmt::format("[cumsum] {} over [{}, {}, {}] ({} blocks)", name, outer, n, inner, blocks));
}

}  // namespace mfx::cuda
