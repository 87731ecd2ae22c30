// GPU evaluation of one primitive, routed by the primitive's type
// (internal). Each op family registers the routes of its types next to its
// kernels, in its own file:
//   views.cpp       Transpose, Broadcast, Slice, Reshape, ...: views, no data touched
//   matmul.cpp      Matmul: cuBLAS
//   conv.cpp        Conv2d: im2col + cuBLAS
//   sort.cpp        Sort, ArgSort, TopK: lib/cuda/kernels/sort.cu
//   detection.cpp   MSDeformAttn(Backward): lib/cuda/kernels/ms_deform_attn.cu
//   random.cpp, scan.cpp, scatter.cpp: device kernels, else the host round trip
//   jit_steps.cpp   steps of jitted programs (Compiled, FusedKernel, ...)
//   host_steps.cpp  primitives that only have a host round trip
// A type that registers nothing — elementwise ops, reductions, gathers, and
// so every composite such as softmax (exp, sum, divide) — runs its
// generated one-op kernel (one_op.h), which is the default. So
// `grep -rn "add<Sort>" compiler/gpu` (or gpu_route()) shows a type's route.
#pragma once

#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// A GPU route of one primitive type: runs `p` on `target` (outputs on
/// `device`) and returns true, or returns false to decline (a dtype its
/// kernel does not take, a build without the kernel, the CPU target) so
/// that the dispatch runs the generated one-op kernel instead. A route that
/// falls back to a host round trip calls it itself (device_else_host in
/// host_steps.h) rather than declining. It is only called with a `p` of the
/// type it was registered for, so it may static_cast `p` to that type.
using GpuKernelFn = bool (*)(Primitive& p, const std::vector<array>& inputs,
                             std::vector<array>& outputs, compiler::Target target, Device device);

/// Routes keyed by the exact dynamic type of a primitive (a subclass needs a
/// registration of its own).
class GpuKernelRegistry {
 public:
  struct Entry {
    GpuKernelFn run;
    /// What runs the type, in a few words (gpu_route()).
    std::string route;
    /// Whether the route may copy the data to the host and back (runs_on_host).
    bool host_round_trip;
  };

  /// Registers the route of primitive type P. Registering a type twice
  /// throws std::logic_error: each type has exactly one route.
  template <class P>
  void add(GpuKernelFn run, std::string route, bool host_round_trip = false) {
    add(typeid(P), run, std::move(route), host_round_trip);
  }
  void add(std::type_index type, GpuKernelFn run, std::string route, bool host_round_trip);

  /// The entry of `type`, or null when the type has no registered route.
  const Entry* find(std::type_index type) const;

 private:
  std::unordered_map<std::type_index, Entry> entries_;
};

/// Every family's routes, registered on the first call (dispatch.cpp calls
/// each family's register_* function; no static initialisers, so a static
/// link keeps every route).
const GpuKernelRegistry& gpu_kernels();

/// Evaluates `p` on `target` the way eager GPU ops run: the registered route
/// of its type, or the generated one-op kernel (eval_one_op) when it has
/// none or the route declines. On Target::Cpu the same routes run on the
/// host, which is how the dispatch is tested without a GPU.
void evaluate(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
              compiler::Target target, Device device);

/// The route of `p`'s type in a few words, e.g. "view: no data touched";
/// "generated one-op kernel" for a type without a registration.
std::string gpu_route(const Primitive& p);

}  // namespace mfx::gpu_detail
