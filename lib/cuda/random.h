// Launchers of the counter-based random kernels (lib/cuda/kernels/random.cu,
// embedded as a fatbin when nvcc was found): bit-identical to the CPU
// kernels of the random primitives. Raw device pointers in, work queued on
// `stream` of the current context (internal).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// True when the build embedded the kernels (nvcc was available).
bool random_kernels_built();
/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> random_fatbin();

/// A key on the device: two words of `dtype` (int64 words are checked to lie
/// in [0, 2^32) on the device; other integer keys are used as 32-bit patterns).
struct DeviceKey {
  CUdeviceptr words = 0;
  Dtype dtype = Dtype::int64;
};

/// Keys [num, 2] (int64): row i is the block at counter start + i.
void random_split(const DeviceKey& key, int64_t num, uint64_t start, CUdeviceptr out,
                  const std::string& op, int index, CUstream stream);
/// n int64 values of 32 random bits.
void random_bits(const DeviceKey& key, int64_t n, CUdeviceptr out, const std::string& op, int index,
                 CUstream stream);
/// n uniform float32 / float64 values in [low, low + range), clamped to the
/// representable bounds [lo, hi] (as the CPU kernel computes them).
void random_uniform(Dtype dtype, const DeviceKey& key, int64_t n, double low, double range,
                    double lo, double hi, CUdeviceptr out, const std::string& op, int index,
                    CUstream stream);
/// n integers base + bits % range of `dtype` (uint8, int32, int64).
void random_integer(Dtype dtype, const DeviceKey& key, int64_t n, uint64_t base, uint64_t range,
                    CUdeviceptr out, const std::string& op, int index, CUstream stream);

}  // namespace mfx::cuda
