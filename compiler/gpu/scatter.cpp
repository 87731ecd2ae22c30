// scatter / scatter_add on the device (see scatter.h).
#include "compiler/gpu/scatter.h"

#include "compiler/gpu/host_steps.h"
#include "compiler/gpu/one_op.h"
#include "cuda/range_check.h"
#include "cuda/runtime.h"
#include "cuda/scatter.h"
#include "primitives/indexing.h"

namespace mfx::gpu_detail {

namespace {

cuda::CUdeviceptr ptr(const array& a) {
  return reinterpret_cast<cuda::CUdeviceptr>(a.raw_data());
}

bool scatter_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                       compiler::Target target, Device device) {
  auto* scatter = static_cast<Scatter*>(&p);
  if (target == compiler::Target::Cpu || !cuda::scatter_kernels_built() ||
      !cuda::range_check_kernels_built() || !cuda::scatter_supported(inputs[0].dtype()) ||
      !cuda::range_check_on_device(inputs[1].dtype())) {
    return false;
  }
  const bool add = scatter->reduce() == ScatterReduce::Add;
  const char* op = add ? "scatter_add" : "scatter";
  const int axis = scatter->axis();
  const array a = dense_copy(inputs[0], target);
  const array updates = dense_copy(inputs[2], target);
  const array indices = checked_indices(inputs[1], a.shape()[axis], op, target, device);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= a.shape()[d];
  for (int d = axis + 1; d < a.ndim(); ++d) inner *= a.shape()[d];
  array& out = outputs[0];
  out.allocate(device);
  const int index = device.index;
  cuda::copy_device_to_device_async(out.raw_data(), a.raw_data(), a.nbytes(), index);
  cuda::scatter_rows(a.dtype(), ptr(out), ptr(indices), indices.dtype(), ptr(updates), outer,
                     a.shape()[axis], indices.shape()[axis], inner, add,
                     cuda::current_stream(index));
  return true;
}

}  // namespace

void register_scatter_kernels(GpuKernelRegistry& r) {
  r.add<Scatter>(device_else_host<scatter_on_device>,
                 "scatter kernels (cuda/scatter.h), else host round trip", true);
}

}  // namespace mfx::gpu_detail
