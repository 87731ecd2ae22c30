// Random primitives on the device (see random.h).
#include "compiler/gpu/random.h"

#include "compiler/gpu/host_steps.h"
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

// The device kernels read the key on the device (int32/int64 keys).
bool device_random(compiler::Target target, const std::vector<array>& inputs) {
  return target != compiler::Target::Cpu && cuda::random_kernels_built() && !inputs.empty() &&
         device_key(inputs[0]);
}

bool split_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                     compiler::Target target, Device device) {
  if (!device_random(target, inputs)) return false;
  auto& split = static_cast<RandomSplit&>(p);
  const array key = dense_copy(inputs[0], target);
  array& out = outputs[0];
  out.allocate(device);
  cuda::random_split({ptr(key), key.dtype()}, split.num(), split.start(), ptr(out), "split",
                     device.index, cuda::current_stream(device.index));
  return true;
}

bool bits_on_device(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs,
                    compiler::Target target, Device device) {
  if (!device_random(target, inputs)) return false;
  const array key = dense_copy(inputs[0], target);
  array& out = outputs[0];
  out.allocate(device);
  cuda::random_bits({ptr(key), key.dtype()}, out.size(), ptr(out), "bits", device.index,
                    cuda::current_stream(device.index));
  return true;
}

bool uniform_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                       compiler::Target target, Device device) {
  auto& uniform = static_cast<RandomUniform&>(p);
  if (!device_random(target, inputs) ||
      (uniform.dtype() != Dtype::float32 && uniform.dtype() != Dtype::float64)) {
    return false;
  }
  const array key = dense_copy(inputs[0], target);
  array& out = outputs[0];
  out.allocate(device);
  const auto [lo, hi] = uniform_bounds(uniform.dtype(), uniform.low(), uniform.high());
  cuda::random_uniform(uniform.dtype(), {ptr(key), key.dtype()}, out.size(), uniform.low(),
                       uniform.high() - uniform.low(), lo, hi, ptr(out), "uniform", device.index,
                       cuda::current_stream(device.index));
  return true;
}

bool integer_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                       compiler::Target target, Device device) {
  if (!device_random(target, inputs)) return false;
  auto& integer = static_cast<RandomInteger&>(p);
  const array key = dense_copy(inputs[0], target);
  array& out = outputs[0];
  out.allocate(device);
  // Unsigned arithmetic: the range and the sum wrap as on the CPU.
  const uint64_t range =
      static_cast<uint64_t>(integer.high()) - static_cast<uint64_t>(integer.low());
  cuda::random_integer(integer.dtype(), {ptr(key), key.dtype()}, out.size(),
                       static_cast<uint64_t>(integer.low()), range, ptr(out), "randint",
                       device.index, cuda::current_stream(device.index));
  return true;
}

}  // namespace

void register_random_kernels(GpuKernelRegistry& r) {
  const char* route = "random kernels (cuda/random.h), else host round trip";
  r.add<RandomSplit>(device_else_host<split_on_device>, route, true);
  r.add<RandomBits>(device_else_host<bits_on_device>, route, true);
  r.add<RandomUniform>(device_else_host<uniform_on_device>, route, true);
  r.add<RandomInteger>(device_else_host<integer_on_device>, route, true);
}

}  // namespace mfx::gpu_detail
