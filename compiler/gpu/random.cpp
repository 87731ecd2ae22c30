// Random primitives on the device (see random.h).
#include "compiler/gpu/random.h"

#include "compiler/gpu/one_op.h"
#include "cuda/random.h"
#include "cuda/runtime.h"
#include "primitives/random.h"

namespace mfx::gpu_detail {

namespace {

cuda::CUdeviceptr ptr(const array& a) {
  return reinterpret_cast<cuda::CUdeviceptr>(a.raw_data());
}

bool device_key(const array& key) {
  return key.dtype() == Dtype::int32 || key.dtype() == Dtype::int64;
}

}  // namespace

bool eval_random(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device) {
  if (target == compiler::Target::Cpu || !cuda::random_kernels_built() || inputs.empty() ||
      !device_key(inputs[0])) {
    return false;
  }
  auto* split = dynamic_cast<RandomSplit*>(&p);
  auto* bits = dynamic_cast<RandomBits*>(&p);
  auto* uniform = dynamic_cast<RandomUniform*>(&p);
  auto* integer = dynamic_cast<RandomInteger*>(&p);
  if (uniform && uniform->dtype() != Dtype::float32 && uniform->dtype() != Dtype::float64) {
    return false;
  }
  if (!split && !bits && !uniform && !integer) return false;
  const array key = dense_copy(inputs[0], target);
  const cuda::DeviceKey k{ptr(key), key.dtype()};
  array& out = outputs[0];
  out.allocate(device);
  const int index = device.index;
  const cuda::CUstream stream = cuda::current_stream(index);
  if (split) {
    cuda::random_split(k, split->num(), split->start(), ptr(out), "split", index, stream);
  } else if (bits) {
    cuda::random_bits(k, out.size(), ptr(out), "bits", index, stream);
  } else if (uniform) {
    const auto [lo, hi] = uniform_bounds(uniform->dtype(), uniform->low(), uniform->high());
    cuda::random_uniform(uniform->dtype(), k, out.size(), uniform->low(),
                         uniform->high() - uniform->low(), lo, hi, ptr(out), "uniform", index,
                         stream);
  } else {
    // Unsigned arithmetic: the range and the sum wrap as on the CPU.
    const uint64_t range =
        static_cast<uint64_t>(integer->high()) - static_cast<uint64_t>(integer->low());
    cuda::random_integer(integer->dtype(), k, out.size(), static_cast<uint64_t>(integer->low()),
                         range, ptr(out), "randint", index, stream);
  }
  return true;
}

}  // namespace mfx::gpu_detail
