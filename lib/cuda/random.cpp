// Loading and launching the embedded random kernels.
#include "cuda/random.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "cuda/fatbin.h"
#include "cuda/range_check.h"

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kRandomFatbin[];
extern const unsigned long long kRandomFatbin_size;

namespace mfx::cuda {
namespace {

CUfunction kernel(const char* name) {
  return fatbin_function(kRandomFatbin, random_fatbin().second, name, "random");
}

constexpr unsigned kThreads = 256;

void launch(CUfunction fn, int64_t n, void** params, CUstream stream, const std::string& op) {
  const unsigned blocks =
      static_cast<unsigned>(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, int64_t{65535}));
  check(driver().cuLaunchKernel(fn, blocks, 1, 1, kThreads, 1, 1, 0, stream, params, nullptr),
        "cuLaunchKernel", fmt::format("[{}] random kernel over {} elements", op, n));
}

// Kernel arguments shared by every kernel: the key and its error reporting.
struct KeyArgs {
  CUdeviceptr words;
  int wide;
  long long op;
  CUdeviceptr err;
};

KeyArgs key_args(const DeviceKey& key, const std::string& op, int index) {
  if (!is_integral(key.dtype) || size_of(key.dtype) < 4) {
    throw std::invalid_argument(
        fmt::format("[{}] a device key must be int32 or int64, got {}", op, dtype_name(key.dtype)));
  }
  return {key.words, key.dtype == Dtype::int64 ? 1 : 0, range_check_op_id(op),
          device_error_word(index)};
}

}  // namespace

bool random_kernels_built() {
  return kRandomFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> random_fatbin() {
  return {kRandomFatbin, static_cast<size_t>(kRandomFatbin_size)};
}

void random_split(const DeviceKey& key, int64_t num, uint64_t start, CUdeviceptr out,
                  const std::string& op, int index, CUstream stream) {
  CUfunction fn = kernel("random_split");
  KeyArgs k = key_args(key, op, index);
  long long n = num;
  unsigned long long s = start;
  void* params[] = {&k.words, &k.wide, &n, &s, &out, &k.op, &k.err};
  launch(fn, num, params, stream, op);
}

void random_bits(const DeviceKey& key, int64_t n, CUdeviceptr out, const std::string& op, int index,
                 CUstream stream) {
  CUfunction fn = kernel("random_bits");
  KeyArgs k = key_args(key, op, index);
  long long count = n;
  void* params[] = {&k.words, &k.wide, &count, &out, &k.op, &k.err};
  launch(fn, n, params, stream, op);
}

void random_uniform(Dtype dtype, const DeviceKey& key, int64_t n, double low, double range,
                    double lo, double hi, CUdeviceptr out, const std::string& op, int index,
                    CUstream stream) {
  if (dtype != Dtype::float32 && dtype != Dtype::float64) {
    throw std::invalid_argument(fmt::format(
        "[{}] the device uniform kernel makes float32 or float64, got {}", op, dtype_name(dtype)));
  }
  CUfunction fn = kernel(dtype == Dtype::float32 ? "random_uniform_f32" : "random_uniform_f64");
  KeyArgs k = key_args(key, op, index);
  long long count = n;
  void* params[] = {&k.words, &k.wide, &count, &low, &range, &lo, &hi, &out, &k.op, &k.err};
  launch(fn, n, params, stream, op);
}

void random_integer(Dtype dtype, const DeviceKey& key, int64_t n, uint64_t base, uint64_t range,
                    CUdeviceptr out, const std::string& op, int index, CUstream stream) {
  if (!is_integral(dtype)) {
    throw std::invalid_argument(
        fmt::format("[{}] the device integer kernel makes uint8, int32 or int64, got {}", op,
                    dtype_name(dtype)));
  }
  CUfunction fn = kernel(dtype == Dtype::uint8   ? "random_integer_u8"
                         : dtype == Dtype::int32 ? "random_integer_i32"
                                                 : "random_integer_i64");
  KeyArgs k = key_args(key, op, index);
  long long count = n;
  unsigned long long b = base, r = range;
  void* params[] = {&k.words, &k.wide, &count, &b, &r, &out, &k.op, &k.err};
  launch(fn, n, params, stream, op);
}

}  // namespace mfx::cuda
