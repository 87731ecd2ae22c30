// Eager evaluation of one primitive as a generated kernel (internal): the
// default GPU route of a primitive type (dispatch.h). The
// jit planner is given a one-node graph, so eager GPU ops and jit-fused
// kernels come from the same Kernel IR builder and code generator. The
// functions are target generic: with Target::Cpu the very same kernels run
// on the host, which is how this path is tested without a GPU; on a GPU
// target they are compiled to PTX and launched on the device's stream.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"
#include "mfx/primitive.h"

namespace mfx::gpu_detail {

/// The kernel of one primitive over row-major inputs.
struct OneOpKernel {
  compiler::Kernel kernel;
  /// Kernel argument i (before the outputs) is primitive input arg_inputs[i].
  std::vector<int> arg_inputs;
  /// (kernel argument, axis size) of gather indices checked before a launch.
  std::vector<std::pair<int, int64_t>> range_checks;
  /// Host constants the kernel reads after the primitive's own inputs (an
  /// index ramp for argmax/argmin), copied to the device at each launch.
  std::vector<array> extra_inputs;
};

/// Plans `p` applied to inputs of the given shapes/dtypes (producing
/// `outputs`' shapes/dtypes) as a one-node jit graph. nullopt when the
/// planner does not turn it into a generated kernel (library calls such as
/// matmul, sort, scans, convolution; empty shapes). ArgMax/ArgMin are
/// planned as the small graph max -> (x == max or isnan x) -> min index, so
/// ties and NaNs pick the first index like the CPU kernel.
std::optional<OneOpKernel> build_one_op_kernel(const std::shared_ptr<Primitive>& p,
                                               const std::vector<array>& inputs,
                                               const std::vector<array>& outputs);

/// A kernel copying a non-empty strided view into a row-major buffer: argument 0 is the
/// source, addressed from its lowest element (see strided_base), argument 1
/// the row-major output. Used to hand kernels and libraries dense inputs and
/// to materialise views.
compiler::Kernel strided_copy_kernel(Dtype dtype, const Shape& shape, const Strides& strides);

/// Element offset, relative to the first element, of the lowest-addressed
/// element of a view (<= 0; negative strides reach below the first element).
int64_t strided_base(const Shape& shape, const Strides& strides);

/// A row-major copy of `x` on its own device (x itself when already
/// row-major), made by strided_copy_kernel for `target`.
array dense_copy(const array& x, compiler::Target target);

/// Runs `p` on evaluated `inputs` (which live on `device`) through its
/// one-op kernel for `target`, allocating `outputs` on `device`. Kernels are
/// cached per (primitive parameters, shapes, dtypes). Throws
/// "[<name>] has no GPU kernel yet" when the planner cannot make one, and
/// for float64 on GPU targets (the code generator's float64 is CPU only).
void eval_one_op(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                 compiler::Target target, Device device);

/// Whether eval_one_op can run `p` on inputs/outputs of these shapes.
bool has_one_op_kernel(Primitive& p, const std::vector<array>& inputs,
                       const std::vector<array>& outputs);

/// Throws std::invalid_argument "[op] index v is out of range for an axis
/// with size n" unless every value of `idx` lies in [-size, size) (copies a
/// GPU array to the host: a synchronisation, like eager CPU checks).
void check_indices(const array& idx, int64_t size, const std::string& op);

/// Indices checked against [-size, size) without a host round trip where
/// possible: on a GPU target (int32/int64 indices, a build with the kernels)
/// by a device kernel that returns a dense copy with bad indices zeroed —
/// errors surface at the next synchronisation (cuda/range_check.h); on the
/// CPU target or otherwise by check_indices, returning idx.
array checked_indices(const array& idx, int64_t size, const std::string& op,
                      compiler::Target target, Device device);

/// Launches `kernel` on `target` with one pointer per kernel argument.
void launch(const compiler::Kernel& kernel, const std::vector<void*>& buffers,
            compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
