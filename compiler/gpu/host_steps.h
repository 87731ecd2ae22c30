// Primitives without a device kernel yet, on GPU arrays (internal): their
// inputs are copied to the host, the CPU kernel runs, and the results are
// copied back to the device — correct, synchronous, and slow for large
// data. The list is explicit (docs/design.md §5.4): creation (arange), random
// numbers the device kernels do not make (random.h: permutations,
// float16/bfloat16 uniforms, uint8 keys), float16/bfloat16 cumulative sums
// (scan.h) and scatters (scatter.h), grid_sample and the second-order
// ms_deform_attn pieces.
#pragma once

#include <vector>

#include "compiler/codegen.h"
#include "mfx/array.h"

namespace mfx::gpu_detail {

/// True for the primitives that have a host round trip: those listed above,
/// and the random, scan and scatter primitives whose device kernels
/// (random.h, scan.h, scatter.h) do not take a call (other dtypes, a build
/// without nvcc); the dispatch tries the device kernels first.
bool runs_on_host(const Primitive& p);

/// Runs `p` (runs_on_host) for outputs on `device`; Target::Cpu runs the
/// CPU kernel directly. Returns false for other primitives.
bool eval_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                  compiler::Target target, Device device);

}  // namespace mfx::gpu_detail
