// Cumulative sums on the device (see scan.h).
#include "compiler/gpu/scan.h"

#include "compiler/gpu/host_steps.h"
#include "compiler/gpu/one_op.h"
#include "cuda/runtime.h"
#include "cuda/scan.h"
#include "primitives/reduction.h"

namespace mfx::gpu_detail {

namespace {

bool scan_on_device(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                    compiler::Target target, Device device) {
  auto* scan = static_cast<Scan*>(&p);
  if (target == compiler::Target::Cpu || !cuda::scan_kernels_built()) return false;
  array& out = outputs[0];
  if (scan->op() != ScanOp::Sum || !cuda::scan_supported(inputs[0].dtype(), out.dtype())) {
    return false;
  }
  // Row-major input and output share one [outer, n, inner] layout.
  const array x = dense_copy(inputs[0], target);
  const int axis = scan->axis();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = axis + 1; d < x.ndim(); ++d) inner *= x.shape()[d];
  out.allocate(device);
  cuda::scan_sum(x.dtype(), out.dtype(), reinterpret_cast<cuda::CUdeviceptr>(x.raw_data()),
                 reinterpret_cast<cuda::CUdeviceptr>(out.raw_data()), outer, x.shape()[axis], inner,
                 scan->reverse(), scan->inclusive(), cuda::current_stream(device.index));
  return true;
}

}  // namespace

void register_scan_kernels(GpuKernelRegistry& r) {
  r.add<Scan>(device_else_host<scan_on_device>, "scan kernel (cuda/scan.h), else host round trip",
              true);
}

}  // namespace mfx::gpu_detail
