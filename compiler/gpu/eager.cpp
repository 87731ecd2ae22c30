// The GPU evaluator of eager ops, installed into the core when mfx_compiler
// is linked (the core cannot depend on the code generator): it picks the
// PTX target of the device and runs gpu_detail::evaluate (dispatch.h).
#include <fmt/format.h>

#include "compiler/gpu/dispatch.h"
#include "cuda/runtime.h"

namespace mfx::gpu_detail {

namespace {

compiler::Target target_of(const Primitive& p, Device device) {
  int cc = cuda::compute_capability(device.index);
  if (cc < 80) {
    throw std::runtime_error(
        fmt::format("[{}] GPU kernels need compute capability 8.0 or newer; {} has {}.{}", p.name(),
                    device.str(), cc / 10, cc % 10));
  }
  return cc >= 90 ? compiler::Target::Sm90 : compiler::Target::Sm80;
}

void evaluate_on_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                     Device device) {
  cuda::make_current(device.index);
  evaluate(p, inputs, outputs, target_of(p, device), device);
}

struct Registrar {
  Registrar() { cuda::set_gpu_evaluator(&evaluate_on_gpu); }
} registrar;

}  // namespace

}  // namespace mfx::gpu_detail

// Referenced by mfx_compiler's link interface (--undefined) so that static
// links keep this object, and with it the registration above.
extern "C" {
int mfx_gpu_backend_anchor = 0;
}
