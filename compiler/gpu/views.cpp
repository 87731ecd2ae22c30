// Views on the GPU path (see views.h).
#include "compiler/gpu/views.h"

#include "compiler/gpu/one_op.h"
#include "primitives/elementwise.h"
#include "primitives/view.h"

namespace mfx::gpu_detail {

namespace {

// The CPU kernel of a view only sets strides over the input's buffer, which
// is valid wherever the buffer lives.
bool view_of_input(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   compiler::Target, Device) {
  p.eval_cpu(inputs, outputs);
  return true;
}

bool reshape_view(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                  compiler::Target target, Device) {
  p.eval_cpu({dense_copy(inputs[0], target)}, outputs);
  return true;
}

}  // namespace

void register_view_kernels(GpuKernelRegistry& r) {
  const char* view = "view: no data touched";
  r.add<Transpose>(view_of_input, view);
  r.add<Broadcast>(view_of_input, view);
  r.add<Slice>(view_of_input, view);
  r.add<StopGradient>(view_of_input, view);
  r.add<TraceInput>(view_of_input, view);
  r.add<Reshape>(reshape_view, "view: no data touched (a row-major copy first if needed)");
}

}  // namespace mfx::gpu_detail
